# The gateway on its own: TLS at the load balancer, instances private and reachable only
# through it, health checked on the unauthenticated /health.

mock_provider "aws" {
  source = "./tests/mocks"
  # Mocked values already at plan time, so every run can be a (cheap) plan.
  override_during = plan
}

override_resource {
  override_during = plan
  target          = aws_security_group.alb
  values          = { id = "sg-0alb000000000000" }
}

override_resource {
  override_during = plan
  target          = aws_security_group.gateway
  values          = { id = "sg-0gateway000000000" }
}

variables {
  name               = "sirocco"
  vpc_id             = "vpc-0123456789abcdef0"
  public_subnet_ids  = ["subnet-0public00000000a", "subnet-0public00000000b"]
  private_subnet_ids = ["subnet-0private0000000a", "subnet-0private0000000b"]
  certificate_arn    = "arn:aws:acm:xx-test-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
  allowed_cidrs      = ["0.0.0.0/0"]
  instance_type      = "c7i.large"
  ami                = "ami-0123456789abcdef0"
  instance_count     = 2
  max_count          = 4
  discover           = "ec2:sirocco-node-group=sirocco:8081"
  secret_parameters = {
    node_secret = { name = "/sirocco/node-secret", arn = "arn:aws:ssm:xx-test-1:123456789012:parameter/sirocco/node-secret" }
    key_secret  = { name = "/sirocco/key-secret", arn = "arn:aws:ssm:xx-test-1:123456789012:parameter/sirocco/key-secret" }
    api_key     = { name = "/sirocco/api-key", arn = "arn:aws:ssm:xx-test-1:123456789012:parameter/sirocco/api-key" }
  }
  release_url    = "https://releases.example.com/sirocco-0.1.0.tgz"
  nodejs_version = "20.19.0"
}

run "tls_load_balancer_in_front_of_private_gateways_that_discover_nodes" {
  command = plan

  module {
    source = "./modules/gateway"
  }

  assert {
    condition     = aws_lb_listener.https.protocol == "HTTPS" && aws_lb_listener.https.port == 443 && aws_lb_listener.https.certificate_arn == var.certificate_arn
    error_message = "The API must be served over HTTPS with the given certificate."
  }
  assert {
    condition     = one(aws_lb_listener.http_redirect.default_action).type == "redirect" && one(one(aws_lb_listener.http_redirect.default_action).redirect).protocol == "HTTPS"
    error_message = "Port 80 must only redirect to HTTPS."
  }
  assert {
    condition     = one(aws_lb_target_group.gateway.health_check).path == "/health"
    error_message = "The target group must check the unauthenticated /health route."
  }
  assert {
    condition     = aws_launch_template.gateway.network_interfaces[0].associate_public_ip_address == "false"
    error_message = "Gateway instances must not get a public IP address."
  }
  assert {
    condition     = toset(aws_autoscaling_group.gateway.vpc_zone_identifier) == toset(var.private_subnet_ids) && aws_autoscaling_group.gateway.health_check_type == "ELB"
    error_message = "Gateways must run in the private subnets, health-checked by the load balancer."
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.gateway_from_alb.referenced_security_group_id == "sg-0alb000000000000" && aws_vpc_security_group_ingress_rule.gateway_from_alb.cidr_ipv4 == null
    error_message = "Only the load balancer may reach the gateways."
  }
  assert {
    condition     = output.security_group_id == "sg-0gateway000000000"
    error_message = "The module must expose the gateway security group (the nodes admit it)."
  }
  assert {
    condition     = output.url == "https://sirocco-gateway-123456789.xx-test-1.elb.amazonaws.com"
    error_message = "Without domain_name the URL is the load balancer's HTTPS name."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.gateway.user_data), "'gateway' '--discover' 'ec2:sirocco-node-group=sirocco:8081'")
    error_message = "Gateways must find nodes by their EC2 tag."
  }
  assert {
    condition = alltrue([for env in ["SIROCCO_NODE_SECRET", "SIROCCO_KEY_SECRET", "SIROCCO_API_KEY"] :
    strcontains(base64decode(aws_launch_template.gateway.user_data), "${env}=\"$(ssm_get '/sirocco/")])
    error_message = "Every secret must be read from Parameter Store at start."
  }
  assert {
    condition     = length([for s in jsondecode(aws_iam_role_policy.gateway_runtime.policy).Statement : s if s.Resource == "*"]) == 1 && [for s in jsondecode(aws_iam_role_policy.gateway_runtime.policy).Statement : s.Action if s.Resource == "*"][0] == ["ec2:DescribeInstances"]
    error_message = "The only unscoped permission may be ec2:DescribeInstances."
  }
}

run "domain_name_with_a_zone_gets_a_record" {
  command = plan
  module {
    source = "./modules/gateway"
  }
  variables {
    domain_name     = "api.example.com"
    route53_zone_id = "Z0123456789ABCDEFGHIJ"
  }
  assert {
    condition     = length(aws_route53_record.api) == 1 && output.url == "https://api.example.com"
    error_message = "domain_name must be the URL and get an alias record in the zone."
  }
}

run "rejects_a_bad_certificate_one_public_subnet_and_zero_gateways" {
  command = plan
  module {
    source = "./modules/gateway"
  }
  variables {
    certificate_arn   = "my-certificate"
    public_subnet_ids = ["subnet-0public00000000a"]
    instance_count    = 0
  }
  expect_failures = [var.certificate_arn, var.public_subnet_ids, var.instance_count]
}
