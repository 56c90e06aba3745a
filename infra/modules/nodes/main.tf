# The inference nodes: an autoscaling group of GPU instances in private subnets, each running
# `sirocco node` under systemd. Gateways find them by the discovery tag the group puts on
# every instance it launches (see the gateway's `--discover`).

data "aws_region" "current" {}

locals {
  discovery_tag_key = "sirocco-node-group"

  # `sirocco node` has no --tp flag yet: the degree travels in SIROCCO_TP and the start script
  # adds `--tp` only once the installed release lists it in its usage text. (The usage is
  # captured first: under pipefail, `node … | grep -q` would fail on node's exit status.)
  pass_tp_when_supported = <<-EOT
    if [ "$SIROCCO_TP" -gt 1 ]; then
      node_usage="$(node bin/sirocco.js node --help 2>&1 || true)"
      if grep -q -- '--tp' <<<"$node_usage"; then set -- "$@" --tp "$SIROCCO_TP"; fi
    fi
  EOT

  environment = merge(
    { SIROCCO_TP = tostring(var.tensor_parallel), SIROCCO_CACHE_DIR = "/var/lib/sirocco/models" },
    # The node uses the first tensor_parallel GPUs; with more GPUs than that the rest stay idle.
    var.gpus_per_instance > 0 ? { CUDA_VISIBLE_DEVICES = join(",", range(var.tensor_parallel)) } : {},
  )

  args = concat(
    ["node", "--model", var.model_uri, "--host", "0.0.0.0", "--port", tostring(var.port)],
    var.model_id == null ? [] : ["--model-id", var.model_id],
    var.extra_args,
  )
}

module "bootstrap" {
  source            = "../host_bootstrap"
  service           = "node"
  release_url       = var.release_url
  release_sha256    = var.release_sha256
  nodejs_version    = var.nodejs_version
  region            = data.aws_region.current.name
  args              = local.args
  environment       = local.environment
  secret_parameters = { SIROCCO_NODE_SECRET = var.node_secret_parameter.name }
  pre_exec          = local.pass_tp_when_supported
  extra_script = templatefile("${path.module}/templates/ready_watchdog.sh.tftpl", {
    asg_name        = local.asg_name
    port            = var.port
    grace_seconds   = var.ready_grace_seconds
    secret_param    = var.node_secret_parameter.name
    failures_needed = 4
  })
}

resource "aws_security_group" "nodes" {
  name_prefix = "${var.name}-"
  description = "Sirocco nodes: internal API reachable from the gateways only"
  vpc_id      = var.vpc_id
  tags        = { Name = var.name }

  lifecycle {
    create_before_destroy = true
  }
}

# The one way in: the node port, from the gateway security group. No CIDR rules.
resource "aws_vpc_security_group_ingress_rule" "from_gateway" {
  security_group_id            = aws_security_group.nodes.id
  description                  = "Sirocco internal API from the gateways"
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
  referenced_security_group_id = var.gateway_security_group_id
}

# Out: S3 (through the VPC endpoint), Parameter Store, package mirrors.
resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.nodes.id
  description       = "Downloads and AWS APIs"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_launch_template" "nodes" {
  name_prefix            = "${var.name}-"
  description            = "Sirocco node: ${var.instance_type}, tp ${var.tensor_parallel}"
  image_id               = var.ami
  instance_type          = var.instance_type
  user_data              = module.bootstrap.user_data_base64
  update_default_version = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.nodes.arn
  }

  # No public address: nodes sit in private subnets and are reached only by the gateways.
  network_interfaces {
    associate_public_ip_address = false
    delete_on_termination       = true
    security_groups             = [aws_security_group.nodes.id]
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required" # IMDSv2 only
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = var.root_device_name
    ebs {
      volume_size           = var.root_volume_gb
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = var.name }
  }

  tag_specifications {
    resource_type = "volume"
    tags          = { Name = var.name }
  }
}

locals {
  asg_name = "${var.name}-nodes"
}

resource "aws_autoscaling_group" "nodes" {
  name                = local.asg_name
  min_size            = var.min_count
  max_size            = var.max_count
  desired_capacity    = var.instance_count
  vpc_zone_identifier = var.subnet_ids

  # EC2 status checks only: the readiness route needs the node secret, which a load balancer
  # health check cannot send. The on-host watchdog reports a node that never gets ready.
  health_check_type         = "EC2"
  health_check_grace_period = 300

  # GPU capacity can be scarce; do not hold `terraform apply` until instances are running.
  wait_for_capacity_timeout = "0"

  launch_template {
    id      = aws_launch_template.nodes.id
    version = aws_launch_template.nodes.latest_version
  }

  # A new launch template replaces nodes one by one, starting each new one first and waiting
  # the readiness grace before retiring an old one.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 100
      max_healthy_percentage = 200
      instance_warmup        = var.ready_grace_seconds
    }
  }

  tag {
    key                 = local.discovery_tag_key
    value               = var.name
    propagate_at_launch = true
  }

  tag {
    key                 = "Name"
    value               = var.name
    propagate_at_launch = true
  }
}
