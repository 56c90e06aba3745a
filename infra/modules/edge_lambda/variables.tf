variable "name" {
  description = "Name of the function and prefix of its role and log group."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9-]{1,40}$", var.name))
    error_message = "name must be 1-40 letters, digits or hyphens."
  }
}

variable "package_path" {
  description = "The Lambda package: the zip `sirocco edge-node --lambda-package FILE.zip` writes."
  type        = string
}

variable "model_uri" {
  description = "s3://bucket/prefix of the model as `sirocco weights push` stored it (small, quantized: it loads into the function's memory)."
  type        = string

  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[A-Za-z0-9._/-]+$", var.model_uri))
    error_message = "model_uri must be s3://bucket/prefix."
  }
}

variable "model_id" {
  description = "The id the function serves the model as (gateways route requests for it)."
  type        = string
}

variable "node_secret_parameter" {
  description = "Name and ARN of the SSM SecureString holding SIROCCO_NODE_SECRET, the secret gateways send (the secrets module's node_secret_parameter). The function reads it at init: the value is in neither the Terraform state nor the function's configuration."
  type        = object({ name = string, arn = string })

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ssm:[a-z0-9-]+:[0-9]{12}:parameter/", var.node_secret_parameter.arn)) && endswith(var.node_secret_parameter.arn, ":parameter/${trimprefix(var.node_secret_parameter.name, "/")}")
    error_message = "node_secret_parameter needs an SSM parameter's name and its ARN (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME)."
  }
}

variable "memory_mb" {
  description = "The function's memory (MB): also the engine's budget for weights, K/V and the rest."
  type        = number
  default     = 1024

  validation {
    condition     = var.memory_mb >= 256 && var.memory_mb <= 10240
    error_message = "memory_mb must be 256-10240."
  }
}

variable "kv_cache_mb" {
  description = "K/V cache memory for the sequences the function decodes at once."
  type        = number
  default     = 64
}

variable "kv_dtype" {
  description = "K/V cache storage: f16, f32, or q8_0 (int8 blocks with a scale: 1.8x f16's context in the same kv_cache_mb; the model's head_dim must be a multiple of 32)."
  type        = string
  default     = "f16"

  validation {
    condition     = contains(["f16", "f32", "q8_0"], var.kv_dtype)
    error_message = "kv_dtype must be f16, f32 or q8_0."
  }
}

variable "timeout_seconds" {
  description = "Longest a request may run (a streamed completion included); Lambda allows 900."
  type        = number
  default     = 300

  validation {
    condition     = var.timeout_seconds >= 10 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be 10-900."
  }
}

variable "log_retention_days" {
  description = "How long CloudWatch keeps the function's logs."
  type        = number
  default     = 30
}
