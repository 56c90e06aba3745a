# The gateways' PostgreSQL on its own: private, encrypted, TLS only, backed up, protected from
# deletion, reachable from the gateway security group only, its password kept by RDS.

mock_provider "aws" {
  source = "./tests/mocks"
  # Mocked values already at plan time, so every run can be a (cheap) plan.
  override_during = plan
}

override_resource {
  override_during = plan
  target          = aws_security_group.database
  values          = { id = "sg-0database00000000" }
}

override_resource {
  override_during = plan
  target          = aws_db_subnet_group.this
  values          = { name = "sirocco-db-20250101000000000000000001" }
}

override_resource {
  override_during = plan
  target          = aws_db_parameter_group.this
  values          = { name = "sirocco-pg16-20250101000000000000000001" }
}

variables {
  name                     = "sirocco"
  vpc_id                   = "vpc-0123456789abcdef0"
  subnet_ids               = ["subnet-0private0000000a", "subnet-0private0000000b"]
  client_security_group_id = "sg-0gateway000000000"
}

run "private_encrypted_backed_up_and_reachable_from_the_gateways_only" {
  command = plan

  module {
    source = "./modules/database"
  }

  assert {
    condition     = aws_db_instance.this.engine == "postgres" && aws_db_instance.this.engine_version == "16" && aws_db_instance.this.instance_class == "db.t4g.small"
    error_message = "The default database is RDS for PostgreSQL 16 on a small instance class."
  }
  assert {
    condition     = aws_db_instance.this.storage_encrypted == true && aws_db_instance.this.storage_type == "gp3"
    error_message = "Storage (and so backups) must be encrypted."
  }
  assert {
    condition     = aws_db_instance.this.publicly_accessible == false
    error_message = "The database must not be publicly accessible."
  }
  assert {
    condition     = aws_db_instance.this.db_subnet_group_name == "sirocco-db-20250101000000000000000001" && aws_db_subnet_group.this.subnet_ids == toset(var.subnet_ids)
    error_message = "The database must live in the given (private) subnets."
  }
  assert {
    condition     = aws_db_instance.this.vpc_security_group_ids == toset(["sg-0database00000000"])
    error_message = "The database must have its own security group and no other."
  }
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.from_gateway.security_group_id == "sg-0database00000000" &&
      aws_vpc_security_group_ingress_rule.from_gateway.referenced_security_group_id == "sg-0gateway000000000" &&
      aws_vpc_security_group_ingress_rule.from_gateway.cidr_ipv4 == null &&
      aws_vpc_security_group_ingress_rule.from_gateway.cidr_ipv6 == null &&
      aws_vpc_security_group_ingress_rule.from_gateway.prefix_list_id == null
    )
    error_message = "Only the gateway security group may reach the database: no address range."
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.from_gateway.ip_protocol == "tcp" && aws_vpc_security_group_ingress_rule.from_gateway.from_port == 5432 && aws_vpc_security_group_ingress_rule.from_gateway.to_port == 5432 && aws_db_instance.this.port == 5432
    error_message = "The ingress rule must open the PostgreSQL port only."
  }
  assert {
    condition     = aws_db_instance.this.manage_master_user_password == true && aws_db_instance.this.password == null
    error_message = "RDS must generate and keep the master password (Secrets Manager); Terraform must not set one."
  }
  assert {
    condition     = output.credentials_secret_arn == "arn:aws:secretsmanager:xx-test-1:123456789012:secret:rds!db-00000000-0000-0000-0000-000000000000-AbCdEf"
    error_message = "The module must expose the ARN of the RDS-managed credentials secret."
  }
  assert {
    condition     = [for p in aws_db_parameter_group.this.parameter : p.value if p.name == "rds.force_ssl"] == ["1"] && aws_db_parameter_group.this.family == "postgres16" && aws_db_instance.this.parameter_group_name == "sirocco-pg16-20250101000000000000000001"
    error_message = "The server must refuse connections without TLS (rds.force_ssl = 1) in a parameter group of the engine's family."
  }
  assert {
    condition     = aws_db_instance.this.deletion_protection == true && aws_db_instance.this.skip_final_snapshot == false && aws_db_instance.this.final_snapshot_identifier == "sirocco-db-final"
    error_message = "Deletion protection must be on by default, and a final snapshot taken on deletion."
  }
  assert {
    condition     = aws_db_instance.this.backup_retention_period == 7 && aws_db_instance.this.multi_az == true
    error_message = "Automated backups kept 7 days and a standby in a second zone by default."
  }
  assert {
    condition     = output.endpoint == "sirocco-db.c0abcdefghij.xx-test-1.rds.amazonaws.com:5432" && output.database_name == "sirocco"
    error_message = "The outputs give where the database is (never its password)."
  }
}

run "settings_follow_the_variables" {
  command = plan

  module {
    source = "./modules/database"
  }

  variables {
    instance_class        = "db.m7g.large"
    engine_version        = "17.2"
    multi_az              = false
    backup_retention_days = 35
    deletion_protection   = false
    kms_key_arn           = "arn:aws:kms:xx-test-1:123456789012:key/00000000-0000-0000-0000-000000000000"
  }

  assert {
    condition     = aws_db_instance.this.instance_class == "db.m7g.large" && aws_db_instance.this.multi_az == false
    error_message = "instance_class and multi_az must reach the instance."
  }
  assert {
    condition     = aws_db_parameter_group.this.family == "postgres17" && aws_db_instance.this.engine_version == "17.2"
    error_message = "The parameter group family must follow the engine's major version."
  }
  assert {
    condition     = aws_db_instance.this.backup_retention_period == 35 && aws_db_instance.this.deletion_protection == false
    error_message = "backup_retention_days and deletion_protection must reach the instance."
  }
  assert {
    condition     = aws_db_instance.this.kms_key_id == var.kms_key_arn && aws_db_instance.this.storage_encrypted == true
    error_message = "A KMS key encrypts the storage with that key."
  }
}

# Each value here is wrong on its own: one subnet (RDS needs two zones), a class without the
# db. prefix, a PostgreSQL older than 15, no backups, a port outside RDS's range, too little storage.
run "rejects_one_subnet_a_bad_class_an_old_engine_no_backups_a_bad_port_and_tiny_storage" {
  command = plan
  module {
    source = "./modules/database"
  }
  variables {
    subnet_ids            = ["subnet-0private0000000a"]
    instance_class        = "t4g.small"
    engine_version        = "14"
    backup_retention_days = 0
    port                  = 80
    allocated_storage_gb  = 10
  }
  expect_failures = [var.subnet_ids, var.instance_class, var.engine_version, var.backup_retention_days, var.port, var.allocated_storage_gb]
}
