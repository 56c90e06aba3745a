variable "service" {
  description = "Which Sirocco service the host runs: 'node' or 'gateway' (names the systemd unit sirocco-<service>)."
  type        = string

  validation {
    condition     = contains(["node", "gateway"], var.service)
    error_message = "service must be 'node' or 'gateway'."
  }
}

variable "release_url" {
  description = "HTTPS URL of a Sirocco release tarball (the repository with one top-level folder, as `npm pack` or a GitHub archive makes it)."
  type        = string

  validation {
    condition     = can(regex("^https://[^\\s'\"]+$", var.release_url))
    error_message = "release_url must be an https:// URL without spaces or quotes."
  }
}

variable "release_sha256" {
  description = "Expected SHA-256 of the release tarball (64 hex digits); null skips the check."
  type        = string
  default     = null

  validation {
    condition     = var.release_sha256 == null || can(regex("^[0-9a-f]{64}$", var.release_sha256))
    error_message = "release_sha256 must be 64 lowercase hex digits or null."
  }
}

variable "nodejs_version" {
  description = "Node.js version installed from nodejs.org (Sirocco needs 20 or later)."
  type        = string

  validation {
    condition     = can(regex("^(2[0-9]|[3-9][0-9])\\.[0-9]+\\.[0-9]+$", var.nodejs_version))
    error_message = "nodejs_version must be a full version such as '20.19.0', major 20 or later."
  }
}

variable "region" {
  description = "AWS region the host runs in, exported as AWS_REGION for the AWS CLI and SDK."
  type        = string
}

variable "args" {
  description = "Arguments after `sirocco`, e.g. [\"node\", \"--model\", \"s3://bucket/prefix\"]."
  type        = list(string)

  validation {
    condition     = length(var.args) > 0
    error_message = "args must name at least the verb ('node' or 'gateway')."
  }
}

variable "environment" {
  description = "Non-secret environment variables of the service."
  type        = map(string)
  default     = {}

  validation {
    # Written into a systemd unit: keep to characters that need no quoting there.
    condition     = alltrue([for k, v in var.environment : can(regex("^[A-Z_][A-Z0-9_]*$", k)) && can(regex("^[A-Za-z0-9_./:,=@+-]*$", v))])
    error_message = "environment names must be UPPER_SNAKE_CASE and values may hold only letters, digits and _ . / : , = @ + -."
  }
}

variable "secret_parameters" {
  description = "Environment variables read from SSM Parameter Store at every service start: variable name → parameter name."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.secret_parameters : can(regex("^[A-Z_][A-Z0-9_]*$", k)) && can(regex("^[A-Za-z0-9_./-]+$", v))])
    error_message = "secret_parameters must map UPPER_SNAKE_CASE names to parameter names such as '/sirocco/node-secret'."
  }
}

variable "pre_exec" {
  description = "Shell lines the start script runs just before `exec sirocco \"$@\"` (they may append arguments with `set -- \"$@\" …`)."
  type        = string
  default     = ""
}

variable "extra_script" {
  description = "Shell lines appended to the first-boot script after the service is started."
  type        = string
  default     = ""
}

variable "database" {
  description = "PostgreSQL store of the service: host, port, database name, the Secrets Manager secret holding {\"username\", \"password\"} (the RDS-managed master secret) and the URL of the RDS certificate bundle. At every start the start script reads the secret and exports SIROCCO_DATABASE_URL (sslmode=verify-full); a timer restarts the service when the secret rotates. null: no database."
  type = object({
    host          = string
    port          = number
    name          = string
    secret_arn    = string
    ca_bundle_url = optional(string, "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem")
  })
  default = null

  validation {
    # Written into shell and JavaScript string literals: keep to characters that need no quoting.
    condition = var.database == null ? true : (
      can(regex("^[A-Za-z0-9.-]+$", var.database.host)) &&
      var.database.port >= 1 && var.database.port <= 65535 && floor(var.database.port) == var.database.port &&
      can(regex("^[A-Za-z_][A-Za-z0-9_]*$", var.database.name)) &&
      can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@!-]+$", var.database.secret_arn)) &&
      can(regex("^https://[^\\s'\"]+$", var.database.ca_bundle_url))
    )
    error_message = "database needs a host name, a port (1-65535), a database name (letters, digits, '_'), a Secrets Manager secret ARN and an https:// CA bundle URL."
  }
}
