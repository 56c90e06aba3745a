output "autoscaling_group_name" {
  description = "Name of the node autoscaling group (set its desired capacity to scale, 0 included)."
  value       = aws_autoscaling_group.nodes.name
}

output "security_group_id" {
  description = "Security group of the node instances."
  value       = aws_security_group.nodes.id
}

output "role_name" {
  description = "IAM role of the node instances (the weights bucket grants it read access to the model prefix)."
  value       = aws_iam_role.nodes.name
}

output "discover" {
  description = "The `sirocco gateway --discover` value that finds this group's running instances."
  value       = "ec2:${local.discovery_tag_key}=${var.name}:${var.port}"
}

output "discovery_tag" {
  description = "Tag the group puts on its instances: key and value."
  value       = { key = local.discovery_tag_key, value = var.name }
}

output "allowed_source_security_group_ids" {
  description = "Security groups whose members may reach the nodes (the gateways' only)."
  value       = [aws_vpc_security_group_ingress_rule.from_gateway.referenced_security_group_id]
}
