variable "name" {
  description = "Prefix of the bucket name (AWS appends a unique suffix) unless bucket_name is set."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,27}$", var.name))
    error_message = "name must be 1-28 lowercase letters, digits or hyphens, starting with a letter or digit."
  }
}

variable "bucket_name" {
  description = "Exact bucket name to use instead of a generated one; null generates '<name>-weights-<suffix>'."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)."
  }
}

variable "model_prefix" {
  description = "Key prefix inside the bucket that holds the served model (e.g. 'mistral-7b-instruct-v0.3'); the nodes may read only below it."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", var.model_prefix))
    error_message = "model_prefix must be a non-empty key prefix such as 'models/mistral-7b': letters, digits, '.', '_', '-' separated by single '/', without a leading or trailing '/'."
  }
}

variable "reader_role_name" {
  description = "Name of the IAM role (the nodes' role) that gets read-only access to model_prefix."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for server-side encryption; null uses S3-managed keys (SSE-S3, AES-256)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:…) or null."
  }
}

variable "noncurrent_version_days" {
  description = "Days a replaced or deleted weight file's old version is kept before S3 expires it (versions of multi-gigabyte files add up)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_days >= 1 && floor(var.noncurrent_version_days) == var.noncurrent_version_days
    error_message = "noncurrent_version_days must be a whole number of at least 1."
  }
}

variable "force_destroy" {
  description = "Let 'terraform destroy' delete the bucket even when it still holds weights."
  type        = bool
  default     = false
}
