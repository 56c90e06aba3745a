# The gateways' shared store: one Amazon RDS for PostgreSQL instance in the private subnets
# holding API keys, the usage ledger and rate-limit counters for every gateway replica (the
# gateway runs its migrations at start). Reachable on its port from the gateway security group
# only, encrypted at rest, TLS required in transit, backed up daily.
#
# The master password is generated and kept by RDS in Secrets Manager
# (manage_master_user_password): it never passes through Terraform — not in the plan, the
# state, user data or an output. The gateways' role may read that one secret; their start
# script builds SIROCCO_DATABASE_URL from it at every start. RDS rotates it (every 7 days by
# default); a timer on each gateway restarts the gateway when the secret has changed.

locals {
  major_version = split(".", var.engine_version)[0]
}

resource "aws_db_subnet_group" "this" {
  name_prefix = "${var.name}-db-"
  description = "Sirocco ${var.name}: private subnets of the gateway database"
  subnet_ids  = var.subnet_ids

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "database" {
  name_prefix = "${var.name}-db-"
  description = "Sirocco database: PostgreSQL from the gateways only"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-db" }

  # No egress rule: Terraform removes the default allow-all one, and the database opens no
  # connection of its own.

  lifecycle {
    create_before_destroy = true
  }
}

# The one way in: the database port, from the gateway security group. No CIDR rules.
resource "aws_vpc_security_group_ingress_rule" "from_gateway" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the Sirocco gateways"
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
  referenced_security_group_id = var.client_security_group_id
}

# rds.force_ssl: the server refuses connections without TLS (the default from PostgreSQL 15 on
# RDS; written here so it stays true whatever the default becomes).
resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.name}-pg${local.major_version}-"
  description = "Sirocco ${var.name}: PostgreSQL ${local.major_version}, TLS required"
  family      = "postgres${local.major_version}"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "this" {
  identifier     = "${var.name}-db"
  engine         = "postgres"
  engine_version = var.engine_version # a major version: RDS applies minor upgrades in the maintenance window
  instance_class = var.instance_class
  multi_az       = var.multi_az

  db_name  = var.database_name
  username = var.username
  port     = var.port
  # RDS generates the password and keeps it in Secrets Manager (encrypted with the AWS managed
  # key aws/secretsmanager) as {"username": …, "password": …}.
  manage_master_user_password = true

  allocated_storage     = var.allocated_storage_gb
  max_allocated_storage = var.max_allocated_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn # null: the AWS managed key aws/rds

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.database.id]
  publicly_accessible    = false
  network_type           = "IPV4"
  parameter_group_name   = aws_db_parameter_group.this.name

  backup_retention_period   = var.backup_retention_days
  copy_tags_to_snapshot     = true
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-db-final"

  auto_minor_version_upgrade  = true
  allow_major_version_upgrade = true # raising engine_version is the operator's decision
  apply_immediately           = var.apply_immediately
}
