# The gateways: an autoscaling group of small CPU instances in private subnets, behind the
# load balancer, each running `sirocco gateway --discover …` under systemd.

data "aws_region" "current" {}

module "bootstrap" {
  source         = "../host_bootstrap"
  service        = "gateway"
  release_url    = var.release_url
  release_sha256 = var.release_sha256
  nodejs_version = var.nodejs_version
  region         = data.aws_region.current.name
  args           = ["gateway", "--discover", var.discover, "--host", "0.0.0.0", "--port", tostring(var.port), "--data", "/var/lib/sirocco/data"]
  secret_parameters = {
    SIROCCO_NODE_SECRET = var.secret_parameters.node_secret.name
    SIROCCO_KEY_SECRET  = var.secret_parameters.key_secret.name
    SIROCCO_API_KEY     = var.secret_parameters.api_key.name
  }
  # Keys, ledger and rate-limit counters in the shared PostgreSQL when there is one (the start
  # script exports SIROCCO_DATABASE_URL from its secret), else in --data on the instance.
  database = var.database
}

resource "aws_security_group" "gateway" {
  name_prefix = "${var.name}-gateway-"
  description = "Sirocco gateways: HTTP from the load balancer only"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-gateway" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "gateway_from_alb" {
  security_group_id            = aws_security_group.gateway.id
  description                  = "From the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
  referenced_security_group_id = aws_security_group.alb.id
}

# Out: the nodes, the database, the EC2, SSM and Secrets Manager APIs, package mirrors.
resource "aws_vpc_security_group_egress_rule" "gateway_all" {
  security_group_id = aws_security_group.gateway.id
  description       = "Nodes, database, AWS APIs and downloads"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_launch_template" "gateway" {
  name_prefix            = "${var.name}-gateway-"
  description            = "Sirocco gateway"
  image_id               = var.ami
  instance_type          = var.instance_type
  user_data              = module.bootstrap.user_data_base64
  update_default_version = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.gateway.arn
  }

  network_interfaces {
    associate_public_ip_address = false
    delete_on_termination       = true
    security_groups             = [aws_security_group.gateway.id]
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = var.root_device_name
    ebs {
      volume_size           = 30
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${var.name}-gateway" }
  }
}

resource "aws_autoscaling_group" "gateway" {
  name                = "${var.name}-gateway"
  min_size            = 1
  max_size            = var.max_count
  desired_capacity    = var.instance_count
  vpc_zone_identifier = var.private_subnet_ids
  target_group_arns   = [aws_lb_target_group.gateway.arn]

  # The load balancer's /health check decides; the grace covers installing Node.js and
  # building the native addon at first boot.
  health_check_type         = "ELB"
  health_check_grace_period = 900

  launch_template {
    id      = aws_launch_template.gateway.id
    version = aws_launch_template.gateway.latest_version
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }

  tag {
    key                 = "Name"
    value               = "${var.name}-gateway"
    propagate_at_launch = true
  }
}
