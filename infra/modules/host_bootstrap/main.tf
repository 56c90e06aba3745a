# First-boot script (EC2 user data) shared by node and gateway hosts: install Node.js and
# build tools, install a Sirocco release, and run one `sirocco <verb>` under systemd. Secrets
# are fetched from Parameter Store (and the database credentials from Secrets Manager) by the
# start script on every start, so they never appear in user data (readable through the
# instance metadata) and a rotated value takes effect on the next restart.

locals {
  # Each argument single-quoted for the shell: it's → 'it'\''s'.
  quoted_args = join(" ", [for a in var.args : "'${replace(a, "'", "'\\''")}'"])

  env_script = templatefile("${path.module}/templates/env.sh.tftpl", {
    service           = var.service
    region            = var.region
    secret_parameters = var.secret_parameters
    database          = var.database
  })

  start_script = templatefile("${path.module}/templates/start.sh.tftpl", {
    service     = var.service
    database    = var.database
    quoted_args = local.quoted_args
    pre_exec    = var.pre_exec
  })

  cli_script = templatefile("${path.module}/templates/cli.sh.tftpl", {
    service  = var.service
    database = var.database
  })

  unit = templatefile("${path.module}/templates/service.tftpl", {
    service     = var.service
    environment = merge(var.environment, { AWS_REGION = var.region, AWS_DEFAULT_REGION = var.region })
  })

  user_data = templatefile("${path.module}/templates/user_data.sh.tftpl", {
    service        = var.service
    nodejs_version = var.nodejs_version
    release_url    = var.release_url
    release_sha256 = var.release_sha256
    region         = var.region
    database       = var.database
    env_script     = local.env_script
    start_script   = local.start_script
    cli_script     = local.cli_script
    unit           = local.unit
    extra_script   = var.extra_script
  })
}
