variable "name" {
  description = "Prefix for the gateway's resources (load balancer, target group, group, role)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.name))
    error_message = "name must be 1-20 lowercase letters, digits or hyphens, starting with a letter (load balancer names are limited to 32 characters)."
  }
}

variable "vpc_id" {
  description = "VPC of the load balancer and the gateway instances."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets for the internet-facing load balancer, in at least two availability zones."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "public_subnet_ids must list at least two subnets: an application load balancer spans two zones or more."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets for the gateway instances (they get no public address)."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) > 0
    error_message = "private_subnet_ids must list at least one subnet."
  }
}

variable "certificate_arn" {
  description = "ARN of the ACM certificate the HTTPS listener presents (for domain_name, when set)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "allowed_cidrs" {
  description = "IPv4 ranges allowed to reach the load balancer on ports 443 and 80 (80 only redirects to 443)."
  type        = list(string)

  validation {
    condition     = length(var.allowed_cidrs) > 0 && alltrue([for c in var.allowed_cidrs : can(cidrnetmask(c))])
    error_message = "allowed_cidrs must list at least one IPv4 CIDR such as 0.0.0.0/0 or 203.0.113.0/24."
  }
}

variable "idle_timeout_seconds" {
  description = "Load balancer idle timeout: the longest a request may go without a byte (a long non-streamed completion)."
  type        = number
  default     = 300

  validation {
    condition     = var.idle_timeout_seconds >= 1 && var.idle_timeout_seconds <= 4000
    error_message = "idle_timeout_seconds must be from 1 to 4000."
  }
}

variable "domain_name" {
  description = "Public name of the API (covered by the certificate); null uses the load balancer's own DNS name in the URL."
  type        = string
  default     = null
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone in which to create domain_name as an alias of the load balancer; null creates no record."
  type        = string
  default     = null
}

variable "instance_type" {
  description = "EC2 instance type of a gateway (CPU only; the gateway does no inference)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must look like 'c7i.large'."
  }
}

variable "ami" {
  description = "AMI of the gateways: an ID (ami-…) or 'resolve:ssm:<parameter>'. It must be Ubuntu-like (apt, systemd)."
  type        = string

  validation {
    condition     = can(regex("^(ami-[0-9a-f]{8,17}|resolve:ssm:/[A-Za-z0-9_./-]+)$", var.ami))
    error_message = "ami must be an AMI ID (ami-0123456789abcdef0) or resolve:ssm:/path/to/parameter."
  }
}

variable "root_device_name" {
  description = "Device name of the AMI's root volume ('/dev/sda1' on Ubuntu)."
  type        = string
  default     = "/dev/sda1"
}

variable "instance_count" {
  description = "Desired number of gateway instances."
  type        = number

  validation {
    condition     = var.instance_count >= 1 && floor(var.instance_count) == var.instance_count
    error_message = "instance_count must be a whole number of at least 1: the API needs a gateway."
  }
}

variable "max_count" {
  description = "Largest size the gateway group may be scaled to."
  type        = number

  validation {
    condition     = var.max_count >= var.instance_count && floor(var.max_count) == var.max_count
    error_message = "max_count must be a whole number of at least instance_count."
  }
}

variable "port" {
  description = "TCP port the gateway listens on behind the load balancer."
  type        = number
  default     = 8080
}

variable "discover" {
  description = "How gateways find nodes: the `sirocco gateway --discover` value (ec2:TAG_KEY=TAG_VALUE:PORT)."
  type        = string

  validation {
    condition     = can(regex("^ec2:[^=\\s]+=[^\\s]+$", var.discover))
    error_message = "discover must look like ec2:TAG_KEY=TAG_VALUE[:PORT]."
  }
}

variable "secret_parameters" {
  description = "SSM parameters (name and ARN) of the node secret, the API-key HMAC secret and the bootstrap API key."
  type = object({
    node_secret = object({ name = string, arn = string })
    key_secret  = object({ name = string, arn = string })
    api_key     = object({ name = string, arn = string })
  })
}

variable "database" {
  description = "The shared PostgreSQL store (host, port, database name, ARN of the Secrets Manager secret with its username and password, optionally the RDS CA bundle URL); null keeps keys and ledger on each instance's disk."
  type = object({
    host          = string
    port          = number
    name          = string
    secret_arn    = string
    ca_bundle_url = optional(string, "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem")
  })
  default = null
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
  description = "Node.js version installed on the gateways (20 or later)."
  type        = string
}

variable "enable_ssm_session" {
  description = "Attach AmazonSSMManagedInstanceCore so operators can open a shell with Session Manager."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the load balancer from deletion (turn off before `terraform destroy`)."
  type        = bool
  default     = false
}
