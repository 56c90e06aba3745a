# The three secrets of a deployment, as SecureString parameters (under the AWS-managed key
# alias/aws/ssm) that instances read at service start — never in user data, never in outputs:
#   node-secret  SIROCCO_NODE_SECRET: gateways send it to nodes' internal API (≥ 16 chars)
#   key-secret   SIROCCO_KEY_SECRET: the HMAC secret under which API keys are stored (≥ 32)
#   api-key      SIROCCO_API_KEY: one API key every gateway replica accepts (sk-…)
#
# The values are write-only (`value_wo`): Terraform sends them to SSM and keeps them neither
# in the state nor in the plan. They are generated from uuid(), whose UUIDs come from a
# cryptographic random source (122 random bits each, 244 per value here). uuid() gives a new
# value every run, but a write-only value is written only when `value_wo_version` changes, so
# the stored secret stays put until secret_version is raised. (The AWS provider's ephemeral
# random-password resource would do too, but `terraform test` cannot mock ephemeral resources.)

locals {
  random_hex = { for name in ["node-secret", "key-secret", "api-key"] : name => replace("${uuid()}${uuid()}", "-", "") }
  values = {
    "node-secret" = local.random_hex["node-secret"]
    "key-secret"  = local.random_hex["key-secret"]
    "api-key"     = "sk-${local.random_hex["api-key"]}" # the shape API keys have (sk- + ≥ 43 URL-safe chars)
  }
  descriptions = {
    "node-secret" = "Sirocco SIROCCO_NODE_SECRET: shared by gateways and nodes"
    "key-secret"  = "Sirocco SIROCCO_KEY_SECRET: HMAC secret for stored API keys"
    "api-key"     = "Sirocco SIROCCO_API_KEY: an API key accepted by every gateway"
  }
}

resource "aws_ssm_parameter" "this" {
  for_each         = local.descriptions
  name             = "${var.parameter_path}/${each.key}"
  description      = each.value
  type             = "SecureString"
  value_wo         = local.values[each.key]
  value_wo_version = var.secret_version
}
