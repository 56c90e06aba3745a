# The whole deployment wired together, seen through the root module's outputs (tests cannot
# look inside child modules; each module has its own test file for that).

mock_provider "aws" {
  source = "./tests/mocks"
  # Mocked values already at plan time, so every run can be a (cheap) plan.
  override_during = plan
}

override_resource {
  override_during = plan
  target          = module.gateway.aws_security_group.gateway
  values          = { id = "sg-0gateway000000000" }
}

variables {
  sirocco_release_url = "https://releases.example.com/sirocco-0.1.0.tgz"
  certificate_arn     = "arn:aws:acm:xx-test-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
  model_prefix        = "mistral-7b-instruct-v0.3"
}

run "deployment_with_defaults" {
  command = plan

  assert {
    condition     = module.nodes.allowed_source_security_group_ids == ["sg-0gateway000000000"]
    error_message = "Only the gateway security group may reach the nodes."
  }
  assert {
    condition     = output.model_uri == "s3://${output.bucket_name}/mistral-7b-instruct-v0.3"
    error_message = "The nodes must load the model prefix of the weights bucket."
  }
  assert {
    condition     = output.node_discovery == "ec2:sirocco-node-group=sirocco:8081"
    error_message = "Gateways must discover the node group by its tag on the node port."
  }
  assert {
    condition     = startswith(output.gateway_url, "https://")
    error_message = "The gateway URL must be HTTPS."
  }
  assert {
    condition     = output.api_key_parameter == "/sirocco/api-key" && output.secret_parameters.node_secret == "/sirocco/node-secret"
    error_message = "Outputs name the secret parameters (never their values)."
  }
  assert {
    condition     = module.database.allowed_source_security_group_ids == ["sg-0gateway000000000"]
    error_message = "Only the gateway security group may reach the database."
  }
  assert {
    condition     = output.database_endpoint == "sirocco-db.c0abcdefghij.xx-test-1.rds.amazonaws.com:5432" && output.database_name == "sirocco"
    error_message = "The outputs must give the database endpoint."
  }
  assert {
    condition     = startswith(output.database_credentials_secret_arn, "arn:aws:secretsmanager:")
    error_message = "The outputs name the database's credentials secret (never the password)."
  }
}

run "existing_network" {
  command = plan
  variables {
    vpc_id             = "vpc-0123456789abcdef0"
    public_subnet_ids  = ["subnet-0public00000000a", "subnet-0public00000000b"]
    private_subnet_ids = ["subnet-0private0000000a", "subnet-0private0000000b"]
  }
  assert {
    condition     = length(module.network) == 0
    error_message = "With vpc_id no network is created."
  }
  assert {
    condition     = module.database.subnet_ids == toset(var.private_subnet_ids)
    error_message = "The database must use the given private subnets."
  }
}

# RDS needs a subnet group in two zones: one private subnet is refused at plan time.
run "rejects_an_existing_network_with_one_private_subnet" {
  command = plan
  variables {
    vpc_id             = "vpc-0123456789abcdef0"
    public_subnet_ids  = ["subnet-0public00000000a", "subnet-0public00000000b"]
    private_subnet_ids = ["subnet-0private0000000a"]
  }
  expect_failures = [var.private_subnet_ids]
}

run "rejects_a_bad_name_and_a_half_given_network" {
  command = plan
  variables {
    name              = "Sirocco_Prod"
    vpc_id            = "vpc-0123456789abcdef0"
    public_subnet_ids = ["subnet-0public00000000a", "subnet-0public00000000b"]
  }
  expect_failures = [var.name, var.private_subnet_ids]
}
