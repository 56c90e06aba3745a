# ── Deployment ────────────────────────────────────────────────────────────────────────────

variable "name" {
  description = "Name of the deployment: prefixes resource names, the SSM parameter path (/<name>/…) and the node discovery tag. Unique per account and region."
  type        = string
  default     = "sirocco"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.name))
    error_message = "name must be 1-20 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "AWS region to deploy to; null takes it from the environment (AWS_REGION or the profile), so no region is written into the configuration."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource (merged into the provider's default tags)."
  type        = map(string)
  default     = {}
}

# ── Release ───────────────────────────────────────────────────────────────────────────────

variable "sirocco_release_url" {
  description = "HTTPS URL of the Sirocco release tarball installed on every instance (e.g. an `npm pack` of a tagged commit, uploaded where the instances can fetch it)."
  type        = string
}

variable "sirocco_release_sha256" {
  description = "Expected SHA-256 of the release tarball; null skips the check (not recommended)."
  type        = string
  default     = null
}

variable "nodejs_version" {
  description = "Node.js version installed from nodejs.org on every instance (20 or later)."
  type        = string
  default     = "20.19.0"
}

# ── Network ───────────────────────────────────────────────────────────────────────────────

variable "vpc_cidr" {
  description = "IPv4 range of the VPC created when vpc_id is null."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zone_count" {
  description = "Availability zones the created VPC spans (at least 2, for the load balancer)."
  type        = number
  default     = 2
}

variable "vpc_id" {
  description = "Existing VPC to deploy into; null creates a VPC with public and private subnets, a NAT gateway and an S3 endpoint."
  type        = string
  default     = null
}

variable "public_subnet_ids" {
  description = "With vpc_id: public subnets (at least 2 zones) for the load balancer."
  type        = list(string)
  default     = null
}

variable "private_subnet_ids" {
  description = "With vpc_id: private subnets with outbound internet access (NAT) for gateways, nodes and the database, in at least 2 zones (RDS requires two)."
  type        = list(string)
  default     = null

  validation {
    condition = (
      var.vpc_id == null ? var.public_subnet_ids == null && var.private_subnet_ids == null :
      try(length(var.public_subnet_ids) >= 2 && length(var.private_subnet_ids) >= 2, false)
    )
    error_message = "Give vpc_id, public_subnet_ids (2 or more) and private_subnet_ids (2 or more, in two zones) together, or none of them to create a network."
  }
}

# ── Weights ───────────────────────────────────────────────────────────────────────────────

variable "weights_bucket_name" {
  description = "Exact name of the weights bucket; null generates '<name>-weights-<suffix>'."
  type        = string
  default     = null
}

variable "model_prefix" {
  description = "Key prefix of the served model in the weights bucket (upload it with `sirocco weights push DIR s3://BUCKET/PREFIX`); the nodes can read only below it."
  type        = string
}

variable "weights_force_destroy" {
  description = "Let `terraform destroy` delete the weights bucket with the weights in it."
  type        = bool
  default     = false
}

variable "weights_kms_key_arn" {
  description = "KMS key for the weights bucket; null uses S3-managed encryption (SSE-S3)."
  type        = string
  default     = null
}

# ── Nodes ─────────────────────────────────────────────────────────────────────────────────

variable "model_id" {
  description = "Model name clients send in requests; null lets the node derive it."
  type        = string
  default     = null
}

variable "node_instance_type" {
  description = "EC2 instance type of a node (a GPU type such as g6.2xlarge, or a CPU type with node_gpus_per_instance = 0)."
  type        = string
  default     = "g6.2xlarge"
}

variable "node_gpus_per_instance" {
  description = "GPUs per node instance of node_instance_type (g6.2xlarge: 1, g7e.12xlarge: 2, g6e.12xlarge: 4); 0 for CPU-only nodes."
  type        = number
  default     = 1
}

variable "tensor_parallel" {
  description = "Tensor-parallel degree of a node; must divide node_gpus_per_instance. Passed to the node as SIROCCO_TP (and as --tp once the release supports it)."
  type        = number
  default     = 1
}

variable "node_count" {
  description = "Desired number of nodes; 0 scales to zero."
  type        = number
  default     = 1
}

variable "node_min_count" {
  description = "Smallest size of the node group (0 allows scaling to zero)."
  type        = number
  default     = 0
}

variable "node_max_count" {
  description = "Largest size of the node group."
  type        = number
  default     = 4
}

variable "node_ami" {
  description = "AMI of the nodes: an ID or resolve:ssm:<parameter>. Default: the latest AWS Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04)."
  type        = string
  default     = "resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
}

variable "node_root_volume_gb" {
  description = "Root volume size of a node in GiB (OS, release and the local cache of the weights)."
  type        = number
  default     = 200
}

variable "node_port" {
  description = "Port of the nodes' internal API."
  type        = number
  default     = 8081
}

variable "node_extra_args" {
  description = "More `sirocco node` arguments, e.g. [\"--kv-cache-mb\", \"16384\"]."
  type        = list(string)
  default     = []
}

variable "node_ready_grace_seconds" {
  description = "Seconds after boot before a node that is not ready is replaced (install + download + load)."
  type        = number
  default     = 1800
}

# ── Gateway ───────────────────────────────────────────────────────────────────────────────

variable "certificate_arn" {
  description = "ACM certificate ARN for the HTTPS listener (it must cover domain_name when that is set)."
  type        = string
}

variable "domain_name" {
  description = "Public name of the API; null puts the load balancer's DNS name in gateway_url."
  type        = string
  default     = null
}

variable "route53_zone_id" {
  description = "Route 53 zone in which to create domain_name as an alias of the load balancer; null creates no record."
  type        = string
  default     = null
}

variable "allowed_cidrs" {
  description = "IPv4 ranges that may reach the API."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "gateway_instance_type" {
  description = "EC2 instance type of a gateway (CPU only)."
  type        = string
  default     = "c7i.large"
}

variable "gateway_count" {
  description = "Desired number of gateways (at least 1; 2 spreads over two zones)."
  type        = number
  default     = 2
}

variable "gateway_max_count" {
  description = "Largest size of the gateway group."
  type        = number
  default     = 4
}

variable "gateway_ami" {
  description = "AMI of the gateways: an ID or resolve:ssm:<parameter>. Default: the latest Ubuntu 22.04 LTS."
  type        = string
  default     = "resolve:ssm:/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id"
}

# ── Database ──────────────────────────────────────────────────────────────────────────────

variable "database_instance_class" {
  description = "RDS instance class of the gateways' PostgreSQL (keys, usage ledger, rate-limit counters). db.t4g.small suits a few gateways; a db.m7g class for sustained high request rates."
  type        = string
  default     = "db.t4g.small"
}

variable "database_engine_version" {
  description = "PostgreSQL major version ('16') or exact version ('16.4'), 15 or later; minor upgrades are applied automatically in the maintenance window."
  type        = string
  default     = "16"
}

variable "database_multi_az" {
  description = "Run a standby in a second zone with automatic failover: every request checks its key in the database, so without one a zone outage stops the API. About doubles the database cost."
  type        = bool
  default     = true
}

variable "database_storage_gb" {
  description = "Initial database storage in GiB (gp3, at least 20)."
  type        = number
  default     = 20
}

variable "database_max_storage_gb" {
  description = "Storage autoscaling ceiling in GiB (the usage ledger grows with traffic); equal to database_storage_gb turns autoscaling off."
  type        = number
  default     = 100
}

variable "database_kms_key_arn" {
  description = "KMS key that encrypts the database storage and backups; null uses the AWS managed key aws/rds."
  type        = string
  default     = null
}

variable "database_backup_retention_days" {
  description = "Days of automated database backups (the point-in-time restore window), 1 to 35."
  type        = number
  default     = 7
}

variable "database_deletion_protection" {
  description = "Refuse to delete the database. To destroy: set false, apply, then destroy (a final snapshot '<name>-db-final' is kept)."
  type        = bool
  default     = true
}

variable "database_apply_immediately" {
  description = "Apply database changes (e.g. a new instance class) at once instead of in the next maintenance window."
  type        = bool
  default     = false
}

variable "database_ca_bundle_url" {
  description = "HTTPS URL of the RDS certificate authority bundle the gateways verify the database's certificate against (another partition's bundle in GovCloud or China)."
  type        = string
  default     = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
}

# ── Operations ────────────────────────────────────────────────────────────────────────────

variable "secret_version" {
  description = "Generation of the node secret, API-key HMAC secret and bootstrap API key; raise it to rotate all three (then refresh both groups)."
  type        = number
  default     = 1
}

variable "enable_ssm_session" {
  description = "Allow shell access to instances through SSM Session Manager (there is no SSH)."
  type        = bool
  default     = true
}
