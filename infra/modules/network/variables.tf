variable "name" {
  description = "Prefix for the names and Name tags of the network's resources."
  type        = string
}

variable "cidr_block" {
  description = "IPv4 range of the VPC; public and private /24 subnets are carved from it."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.cidr_block)) && try(tonumber(split("/", var.cidr_block)[1]) >= 16 && tonumber(split("/", var.cidr_block)[1]) <= 20, false)
    error_message = "cidr_block must be an IPv4 CIDR from /16 to /20 (AWS allows /16 at most; subnets are /24 slices of it)."
  }
}

variable "availability_zone_count" {
  description = "Number of availability zones to spread over; the load balancer needs at least 2."
  type        = number
  default     = 2

  validation {
    condition     = var.availability_zone_count >= 2 && var.availability_zone_count <= 6 && floor(var.availability_zone_count) == var.availability_zone_count
    error_message = "availability_zone_count must be a whole number from 2 to 6."
  }
}
