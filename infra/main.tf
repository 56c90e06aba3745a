# Sirocco on AWS: a weights bucket, an autoscaling group of GPU nodes in private subnets,
# an autoscaling group of gateways behind a TLS load balancer that find the nodes by their
# EC2 tag, and the PostgreSQL database the gateways share (API keys, usage ledger, rate-limit
# counters). See README.md for the design and the deploy steps.

provider "aws" {
  region = var.region # null: from the environment, never hard-coded here

  default_tags {
    tags = merge({ "sirocco:deployment" = var.name }, var.tags)
  }
}

locals {
  create_network     = var.vpc_id == null
  vpc_id             = local.create_network ? module.network[0].vpc_id : var.vpc_id
  public_subnet_ids  = local.create_network ? module.network[0].public_subnet_ids : var.public_subnet_ids
  private_subnet_ids = local.create_network ? module.network[0].private_subnet_ids : var.private_subnet_ids
}

module "network" {
  source                  = "./modules/network"
  count                   = local.create_network ? 1 : 0
  name                    = var.name
  cidr_block              = var.vpc_cidr
  availability_zone_count = var.availability_zone_count
}

module "secrets" {
  source         = "./modules/secrets"
  parameter_path = "/${var.name}"
  secret_version = var.secret_version
}

module "weights_bucket" {
  source           = "./modules/weights_bucket"
  name             = var.name
  bucket_name      = var.weights_bucket_name
  model_prefix     = var.model_prefix
  reader_role_name = module.nodes.role_name
  kms_key_arn      = var.weights_kms_key_arn
  force_destroy    = var.weights_force_destroy
}

module "nodes" {
  source                    = "./modules/nodes"
  name                      = var.name
  vpc_id                    = local.vpc_id
  subnet_ids                = local.private_subnet_ids
  gateway_security_group_id = module.gateway.security_group_id
  instance_type             = var.node_instance_type
  gpus_per_instance         = var.node_gpus_per_instance
  tensor_parallel           = var.tensor_parallel
  instance_count            = var.node_count
  min_count                 = var.node_min_count
  max_count                 = var.node_max_count
  ami                       = var.node_ami
  root_volume_gb            = var.node_root_volume_gb
  model_uri                 = module.weights_bucket.model_uri
  model_id                  = var.model_id
  port                      = var.node_port
  extra_args                = var.node_extra_args
  ready_grace_seconds       = var.node_ready_grace_seconds
  node_secret_parameter     = module.secrets.node_secret_parameter
  release_url               = var.sirocco_release_url
  release_sha256            = var.sirocco_release_sha256
  nodejs_version            = var.nodejs_version
  enable_ssm_session        = var.enable_ssm_session
}

module "database" {
  source                   = "./modules/database"
  name                     = var.name
  vpc_id                   = local.vpc_id
  subnet_ids               = local.private_subnet_ids
  client_security_group_id = module.gateway.security_group_id
  instance_class           = var.database_instance_class
  engine_version           = var.database_engine_version
  multi_az                 = var.database_multi_az
  allocated_storage_gb     = var.database_storage_gb
  max_allocated_storage_gb = var.database_max_storage_gb
  kms_key_arn              = var.database_kms_key_arn
  backup_retention_days    = var.database_backup_retention_days
  deletion_protection      = var.database_deletion_protection
  apply_immediately        = var.database_apply_immediately
}

module "gateway" {
  source             = "./modules/gateway"
  name               = var.name
  vpc_id             = local.vpc_id
  public_subnet_ids  = local.public_subnet_ids
  private_subnet_ids = local.private_subnet_ids
  certificate_arn    = var.certificate_arn
  domain_name        = var.domain_name
  route53_zone_id    = var.route53_zone_id
  allowed_cidrs      = var.allowed_cidrs
  instance_type      = var.gateway_instance_type
  instance_count     = var.gateway_count
  max_count          = var.gateway_max_count
  ami                = var.gateway_ami
  discover           = "ec2:sirocco-node-group=${var.name}:${var.node_port}"
  secret_parameters = {
    node_secret = module.secrets.node_secret_parameter
    key_secret  = module.secrets.key_secret_parameter
    api_key     = module.secrets.api_key_parameter
  }
  database = {
    host          = module.database.address
    port          = module.database.port
    name          = module.database.database_name
    secret_arn    = module.database.credentials_secret_arn
    ca_bundle_url = var.database_ca_bundle_url
  }
  release_url        = var.sirocco_release_url
  release_sha256     = var.sirocco_release_sha256
  nodejs_version     = var.nodejs_version
  enable_ssm_session = var.enable_ssm_session
}
