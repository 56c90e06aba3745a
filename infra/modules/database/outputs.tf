# Where the database is and where its credentials live: no password.

output "address" {
  description = "Host name of the database (private: it resolves to an address in the VPC)."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port the database listens on."
  value       = aws_db_instance.this.port
}

output "endpoint" {
  description = "host:port of the database."
  value       = "${aws_db_instance.this.address}:${aws_db_instance.this.port}"
}

output "database_name" {
  description = "Name of the database the gateways use."
  value       = aws_db_instance.this.db_name
}

output "username" {
  description = "Master user name (the password is in the credentials secret)."
  value       = aws_db_instance.this.username
}

output "credentials_secret_arn" {
  description = "ARN of the Secrets Manager secret, managed by RDS, that holds the master user name and password as JSON."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  description = "Security group of the database."
  value       = aws_security_group.database.id
}

output "allowed_source_security_group_ids" {
  description = "Security groups whose members may reach the database (the gateways' only)."
  value       = [aws_vpc_security_group_ingress_rule.from_gateway.referenced_security_group_id]
}

output "identifier" {
  description = "RDS identifier of the instance."
  value       = aws_db_instance.this.identifier
}

output "subnet_ids" {
  description = "Subnets of the DB subnet group (the private ones)."
  value       = aws_db_subnet_group.this.subnet_ids
}
