# The node group on its own: not reachable from the internet, and its variables refuse
# configurations that cannot work.

mock_provider "aws" {
  source = "./tests/mocks"
  # Mocked values already at plan time, so every run can be a (cheap) plan.
  override_during = plan
}

variables {
  name                      = "sirocco"
  vpc_id                    = "vpc-0123456789abcdef0"
  subnet_ids                = ["subnet-0private0000000a", "subnet-0private0000000b"]
  gateway_security_group_id = "sg-0gateway000000000"
  instance_type             = "g7e.12xlarge"
  gpus_per_instance         = 2
  tensor_parallel           = 2
  instance_count            = 1
  min_count                 = 0
  max_count                 = 2
  ami                       = "resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
  root_volume_gb            = 300
  model_uri                 = "s3://sirocco-weights-test/mixtral-8x7b-instruct-v0.1"
  port                      = 8081
  ready_grace_seconds       = 1800
  node_secret_parameter     = { name = "/sirocco/node-secret", arn = "arn:aws:ssm:xx-test-1:123456789012:parameter/sirocco/node-secret" }
  release_url               = "https://releases.example.com/sirocco-0.1.0.tgz"
  nodejs_version            = "20.19.0"
}

run "nodes_are_private_reachable_only_from_the_gateways_and_run_the_model" {
  command = plan

  module {
    source = "./modules/nodes"
  }

  assert {
    condition     = aws_launch_template.nodes.network_interfaces[0].associate_public_ip_address == "false"
    error_message = "Node instances must not get a public IP address."
  }
  assert {
    condition     = aws_launch_template.nodes.metadata_options[0].http_tokens == "required"
    error_message = "Nodes must require IMDSv2."
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.from_gateway.referenced_security_group_id == "sg-0gateway000000000"
    error_message = "The node ingress rule must admit the gateway security group."
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.from_gateway.cidr_ipv4 == null && aws_vpc_security_group_ingress_rule.from_gateway.cidr_ipv6 == null
    error_message = "The node ingress rule must not admit an address range."
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.from_gateway.from_port == 8081 && aws_vpc_security_group_ingress_rule.from_gateway.to_port == 8081
    error_message = "The node ingress rule must open the node port only."
  }
  assert {
    condition     = toset(aws_autoscaling_group.nodes.vpc_zone_identifier) == toset(var.subnet_ids)
    error_message = "Nodes must launch in the given (private) subnets."
  }
  assert {
    condition     = aws_autoscaling_group.nodes.health_check_type == "EC2"
    error_message = "Node health is EC2 status plus the on-host readiness watchdog (the ready route needs the secret)."
  }
  assert {
    condition     = aws_launch_template.nodes.block_device_mappings[0].ebs[0].volume_size == 300 && aws_launch_template.nodes.block_device_mappings[0].ebs[0].encrypted == "true"
    error_message = "The root volume must have root_volume_gb and be encrypted."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.nodes.user_data), "'node' '--model' 's3://sirocco-weights-test/mixtral-8x7b-instruct-v0.1' '--host' '0.0.0.0' '--port' '8081'")
    error_message = "User data must start `sirocco node` with the model URI on the node port."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.nodes.user_data), "Environment=SIROCCO_TP=2") && strcontains(base64decode(aws_launch_template.nodes.user_data), "Environment=CUDA_VISIBLE_DEVICES=0,1")
    error_message = "The tensor-parallel degree must reach the node (SIROCCO_TP) with its GPUs."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.nodes.user_data), "SIROCCO_NODE_SECRET=\"$(ssm_get '/sirocco/node-secret')\"")
    error_message = "The node secret must be read from Parameter Store at start, not written into user data."
  }
  assert {
    condition     = !strcontains(aws_iam_role_policy.node_runtime.policy, "secretsmanager") && !strcontains(base64decode(aws_launch_template.nodes.user_data), "SIROCCO_DATABASE_URL")
    error_message = "Nodes have no business with the gateways' database or its credentials."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.nodes.user_data), "systemctl enable --now sirocco-node.service")
    error_message = "User data must run the node under systemd."
  }
}

run "a_cpu_only_group_scaled_to_zero" {
  command = plan

  module {
    source = "./modules/nodes"
  }

  variables {
    instance_type     = "c7i.8xlarge"
    gpus_per_instance = 0
    tensor_parallel   = 1
    instance_count    = 0
    min_count         = 0
  }

  assert {
    condition     = aws_autoscaling_group.nodes.min_size == 0 && aws_autoscaling_group.nodes.desired_capacity == 0
    error_message = "The node group must be able to scale to zero."
  }
  assert {
    condition     = !strcontains(base64decode(aws_launch_template.nodes.user_data), "CUDA_VISIBLE_DEVICES")
    error_message = "CPU-only nodes get no CUDA_VISIBLE_DEVICES."
  }
}

run "rejects_tp_that_does_not_divide_the_gpus_and_an_empty_model_uri" {
  command = plan
  module {
    source = "./modules/nodes"
  }
  variables {
    gpus_per_instance = 4
    tensor_parallel   = 3
    model_uri         = ""
  }
  expect_failures = [var.tensor_parallel, var.model_uri]
}

run "rejects_a_negative_count_and_tp_without_gpus" {
  command = plan
  module {
    source = "./modules/nodes"
  }
  variables {
    instance_count    = -1
    gpus_per_instance = 0
    tensor_parallel   = 2
  }
  expect_failures = [var.instance_count, var.tensor_parallel]
}

# Each value here is wrong on its own: the minimum above and the maximum below the count, a
# bucket with no model prefix, a disk too small for the OS, an AMI that is neither ID nor SSM.
run "rejects_bad_bounds_a_bucket_without_prefix_a_tiny_disk_and_a_bad_ami" {
  command = plan
  module {
    source = "./modules/nodes"
  }
  variables {
    instance_count = 3
    min_count      = 4
    max_count      = 2
    model_uri      = "s3://sirocco-weights-test"
    root_volume_gb = 8
    ami            = "ubuntu-latest"
  }
  expect_failures = [var.min_count, var.max_count, var.model_uri, var.root_volume_gb, var.ami]
}
