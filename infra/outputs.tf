# No secret values here: only where they live (read them with
# `aws ssm get-parameter --with-decryption --name NAME --query Parameter.Value --output text`,
# the database's with `aws secretsmanager get-secret-value --secret-id ARN`).

output "gateway_url" {
  description = "Base URL of the OpenAI-compatible API; clients use <gateway_url>/v1."
  value       = module.gateway.url
}

output "load_balancer_dns_name" {
  description = "DNS name of the load balancer (for a CNAME when Route 53 is not used)."
  value       = module.gateway.load_balancer_dns_name
}

output "bucket_name" {
  description = "Name of the weights bucket."
  value       = module.weights_bucket.bucket_name
}

output "model_uri" {
  description = "Where the nodes load the model from: push the weights here with `sirocco weights push`."
  value       = module.weights_bucket.model_uri
}

output "api_key_parameter" {
  description = "SSM parameter holding an API key every gateway accepts (SecureString)."
  value       = module.secrets.api_key_parameter.name
}

output "secret_parameters" {
  description = "Names of the SSM parameters of the node secret and the API-key HMAC secret."
  value = {
    node_secret = module.secrets.node_secret_parameter.name
    key_secret  = module.secrets.key_secret_parameter.name
  }
}

output "node_autoscaling_group" {
  description = "Node autoscaling group: scale with `aws autoscaling set-desired-capacity` (0 allowed) or node_count."
  value       = module.nodes.autoscaling_group_name
}

output "gateway_autoscaling_group" {
  description = "Gateway autoscaling group."
  value       = module.gateway.autoscaling_group_name
}

output "node_discovery" {
  description = "The --discover value the gateways run with."
  value       = module.nodes.discover
}

output "database_endpoint" {
  description = "host:port of the gateways' PostgreSQL (private: reachable from the gateways only)."
  value       = module.database.endpoint
}

output "database_address" {
  description = "Host name of the gateways' PostgreSQL."
  value       = module.database.address
}

output "database_name" {
  description = "Database the gateways use."
  value       = module.database.database_name
}

output "database_credentials_secret_arn" {
  description = "Secrets Manager secret (managed and rotated by RDS) holding the database user name and password; only the gateways' role may read it."
  value       = module.database.credentials_secret_arn
}
