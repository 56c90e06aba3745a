variable "name" {
  description = "Name of the node group: prefixes its resources and is the value of its discovery tag."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,25}$", var.name))
    error_message = "name must be 1-26 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "vpc_id" {
  description = "VPC the nodes run in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the node instances (they get no public address)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids must list at least one subnet."
  }
}

variable "gateway_security_group_id" {
  description = "Security group of the gateway instances: the only source allowed to reach the nodes."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type of a node, e.g. 'g6.2xlarge' (1 GPU) or 'g7e.12xlarge' (2 GPUs)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must look like 'g6.2xlarge'."
  }
}

variable "gpus_per_instance" {
  description = "GPUs one instance of instance_type has (0 for CPU-only nodes); tensor_parallel must divide it."
  type        = number

  validation {
    condition     = var.gpus_per_instance >= 0 && var.gpus_per_instance <= 16 && floor(var.gpus_per_instance) == var.gpus_per_instance
    error_message = "gpus_per_instance must be a whole number from 0 to 16."
  }
}

variable "tensor_parallel" {
  description = "Tensor-parallel degree: GPUs one node process splits the model over. Must divide gpus_per_instance (and be 1 on CPU-only nodes)."
  type        = number

  validation {
    condition = (
      var.tensor_parallel >= 1 && floor(var.tensor_parallel) == var.tensor_parallel &&
      (var.gpus_per_instance == 0 ? var.tensor_parallel == 1 : var.gpus_per_instance % var.tensor_parallel == 0)
    )
    error_message = "tensor_parallel (${var.tensor_parallel}) must be a whole number of at least 1 that divides gpus_per_instance (${var.gpus_per_instance}); it must be 1 when there are no GPUs."
  }
}

variable "instance_count" {
  description = "Desired number of node instances; 0 scales the group to zero (no GPU cost, no capacity)."
  type        = number

  validation {
    condition     = var.instance_count >= 0 && floor(var.instance_count) == var.instance_count
    error_message = "instance_count must be a whole number of at least 0."
  }
}

variable "min_count" {
  description = "Smallest size the node group may be scaled to; 0 allows scaling to zero."
  type        = number

  validation {
    condition     = var.min_count >= 0 && floor(var.min_count) == var.min_count && var.min_count <= var.instance_count
    error_message = "min_count must be a whole number from 0 to instance_count."
  }
}

variable "max_count" {
  description = "Largest size the node group may be scaled to."
  type        = number

  validation {
    # min_count <= instance_count is checked there, so max_count >= min_count follows.
    condition     = var.max_count >= 1 && floor(var.max_count) == var.max_count && var.max_count >= var.instance_count
    error_message = "max_count must be a whole number of at least 1 and at least instance_count."
  }
}

variable "ami" {
  description = "AMI of the nodes: an ID (ami-…) or 'resolve:ssm:<parameter>' naming a public AMI parameter. It must be Ubuntu-like (apt, systemd) with the GPU driver installed."
  type        = string

  validation {
    condition     = can(regex("^(ami-[0-9a-f]{8,17}|resolve:ssm:/[A-Za-z0-9_./-]+)$", var.ami))
    error_message = "ami must be an AMI ID (ami-0123456789abcdef0) or resolve:ssm:/path/to/parameter."
  }
}

variable "root_device_name" {
  description = "Device name of the AMI's root volume, which root_volume_gb resizes ('/dev/sda1' on Ubuntu and the Deep Learning AMIs)."
  type        = string
  default     = "/dev/sda1"
}

variable "root_volume_gb" {
  description = "Size of the root volume in GiB: the OS, the release and the local cache of the model's weights (Mixtral 8x7B in bf16 is ~94 GB)."
  type        = number

  validation {
    condition     = var.root_volume_gb >= 30 && var.root_volume_gb <= 16384 && floor(var.root_volume_gb) == var.root_volume_gb
    error_message = "root_volume_gb must be a whole number from 30 to 16384."
  }
}

variable "model_uri" {
  description = "Model the nodes serve, passed to `sirocco node --model`: s3://bucket/prefix or an absolute directory on the instance."
  type        = string

  validation {
    condition     = can(regex("^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*|/[A-Za-z0-9._/-]+)$", var.model_uri))
    error_message = "model_uri must not be empty: give s3://bucket/prefix or an absolute path such as /opt/models/mistral-7b."
  }
}

variable "model_id" {
  description = "Model name clients ask for (`sirocco node --model-id`); null lets the node derive it from the model."
  type        = string
  default     = null

  validation {
    condition     = var.model_id == null || can(regex("^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$", var.model_id))
    error_message = "model_id must be 1-128 letters, digits or . _ : / - (or null)."
  }
}

variable "port" {
  description = "TCP port of the node's internal API."
  type        = number

  validation {
    condition     = var.port >= 1024 && var.port <= 65535 && floor(var.port) == var.port
    error_message = "port must be a whole number from 1024 to 65535."
  }
}

variable "extra_args" {
  description = "More `sirocco node` arguments, e.g. [\"--kv-cache-mb\", \"16384\", \"--threads\", \"8\"]."
  type        = list(string)
  default     = []
}

variable "ready_grace_seconds" {
  description = "Seconds after boot before the readiness watchdog may mark a node unhealthy: installing, downloading and loading the model all happen in this time."
  type        = number

  validation {
    condition     = var.ready_grace_seconds >= 300 && floor(var.ready_grace_seconds) == var.ready_grace_seconds
    error_message = "ready_grace_seconds must be a whole number of at least 300."
  }
}

variable "node_secret_parameter" {
  description = "Name and ARN of the SSM parameter holding SIROCCO_NODE_SECRET."
  type        = object({ name = string, arn = string })
}

variable "release_url" {
  description = "HTTPS URL of the Sirocco release tarball to install."
  type        = string
}

variable "release_sha256" {
  description = "Expected SHA-256 of the release tarball; null skips the check."
  type        = string
  default     = null
}

variable "nodejs_version" {
  description = "Node.js version installed on the nodes (20 or later)."
  type        = string
}

variable "enable_ssm_session" {
  description = "Attach AmazonSSMManagedInstanceCore so operators can open a shell with Session Manager (nodes have no SSH and no public address)."
  type        = bool
  default     = true
}
