variable "parameter_path" {
  description = "SSM Parameter Store path under which the secrets are created, e.g. '/sirocco/prod'."
  type        = string

  validation {
    condition     = can(regex("^(/[A-Za-z0-9_.-]+)+$", var.parameter_path))
    error_message = "parameter_path must look like '/sirocco/prod': segments of letters, digits, '_', '.', '-' each after a '/', no trailing '/'."
  }
}

variable "secret_version" {
  description = "Generation of the secrets: raising it makes Terraform write fresh random values (rotation); keeping it leaves the stored values alone."
  type        = number
  default     = 1

  validation {
    condition     = var.secret_version >= 1 && floor(var.secret_version) == var.secret_version
    error_message = "secret_version must be a whole number of at least 1."
  }
}
