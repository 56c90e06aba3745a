output "url" {
  description = "Base URL of the OpenAI-compatible API (append /v1)."
  value       = "https://${coalesce(var.domain_name, aws_lb.this.dns_name)}"
}

output "load_balancer_dns_name" {
  description = "DNS name of the load balancer (point domain_name at it when Route 53 is not used)."
  value       = aws_lb.this.dns_name
}

output "security_group_id" {
  description = "Security group of the gateway instances (the nodes admit only it)."
  value       = aws_security_group.gateway.id
}

output "autoscaling_group_name" {
  description = "Name of the gateway autoscaling group."
  value       = aws_autoscaling_group.gateway.name
}
