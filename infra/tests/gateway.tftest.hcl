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

run "without_a_database_the_gateway_keeps_its_store_on_disk_and_reads_no_database_secret" {
  command = plan
  module {
    source = "./modules/gateway"
  }
  assert {
    condition     = !strcontains(base64decode(aws_launch_template.gateway.user_data), "SIROCCO_DATABASE_URL") && !strcontains(base64decode(aws_launch_template.gateway.user_data), "database-secret-watch")
    error_message = "Without a database the gateway gets no SIROCCO_DATABASE_URL and no rotation watch."
  }
  assert {
    condition     = !strcontains(aws_iam_role_policy.gateway_runtime.policy, "secretsmanager")
    error_message = "Without a database the gateway role reads no Secrets Manager secret."
  }
}

run "with_the_shared_database_the_start_script_builds_its_url_from_the_secret" {
  command = plan
  module {
    source = "./modules/gateway"
  }
  variables {
    database = {
      host       = "sirocco-db.c0abcdefghij.xx-test-1.rds.amazonaws.com"
      port       = 5432
      name       = "sirocco"
      secret_arn = "arn:aws:secretsmanager:xx-test-1:123456789012:secret:rds!db-00000000-0000-0000-0000-000000000000-AbCdEf"
    }
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.gateway.user_data), "aws secretsmanager get-secret-value --secret-id 'arn:aws:secretsmanager:xx-test-1:123456789012:secret:rds!db-00000000-0000-0000-0000-000000000000-AbCdEf' --output json | node -e")
    error_message = "The start script must read the database credentials from their secret at start."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.gateway.user_data), "\nexport SIROCCO_DATABASE_URL\n")
    error_message = "The start script must export SIROCCO_DATABASE_URL for the gateway."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.gateway.user_data), "@sirocco-db.c0abcdefghij.xx-test-1.rds.amazonaws.com:5432/sirocco?sslmode=verify-full&sslrootcert=/opt/sirocco/rds-ca.pem")
    error_message = "The URL must name the database's host, port and name, with TLS verified against the RDS certificate authorities."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.gateway.user_data), "curl -fsSL -o /opt/sirocco/rds-ca.pem 'https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem'")
    error_message = "First boot must fetch the RDS certificate bundle the URL refers to."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.gateway.user_data), "systemctl enable --now sirocco-database-secret-watch.timer")
    error_message = "A timer must restart the gateway when RDS rotates the password."
  }
  assert {
    # A URL with a user and password in it, or a password variable: none may be written in.
    condition     = !can(regex("postgres(ql)?://[^\\s\"'/@:]+:[^\\s\"'/@]+@", base64decode(aws_launch_template.gateway.user_data))) && !can(regex("(?i)PGPASSWORD|password=", base64decode(aws_launch_template.gateway.user_data)))
    error_message = "No database password may appear in user data."
  }
  assert {
    condition     = length(base64decode(aws_launch_template.gateway.user_data)) < 16384
    error_message = "EC2 user data is limited to 16 KiB."
  }
  assert {
    condition = (
      length([for s in jsondecode(aws_iam_role_policy.gateway_runtime.policy).Statement : s if strcontains(jsonencode(s.Action), "secretsmanager")]) == 1 &&
      [for s in jsondecode(aws_iam_role_policy.gateway_runtime.policy).Statement : s.Action if s.Sid == "ReadDatabaseCredentials"][0] == ["secretsmanager:GetSecretValue"] &&
      [for s in jsondecode(aws_iam_role_policy.gateway_runtime.policy).Statement : s.Resource if s.Sid == "ReadDatabaseCredentials"][0] == [var.database.secret_arn]
    )
    error_message = "The gateway role may read exactly the database's credentials secret, and do nothing else with Secrets Manager."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.gateway.user_data), "SIROCCO_KEY_SECRET=\"$(ssm_get '/sirocco/key-secret')\"")
    error_message = "The key secret still comes from Parameter Store, so the database alone cannot mint keys."
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
