# The network module: private subnets hand out no public addresses and reach S3 directly.

mock_provider "aws" {
  source = "./tests/mocks"
  # Mocked values already at plan time, so every run can be a (cheap) plan.
  override_during = plan
}

override_resource {
  override_during = plan
  target          = aws_route_table.private
  values          = { id = "rtb-0private000000000" }
}

override_resource {
  override_during = plan
  target          = aws_nat_gateway.this
  values          = { id = "nat-0000000000000000a" }
}

variables {
  name = "sirocco"
}

run "private_subnets_have_no_public_addresses" {
  command = plan

  module {
    source = "./modules/network"
  }

  assert {
    condition     = length(aws_subnet.private) == 2 && alltrue([for s in aws_subnet.private : !s.map_public_ip_on_launch])
    error_message = "Private subnets (one per zone) must not assign public addresses."
  }
  assert {
    condition     = toset([for s in aws_subnet.private : s.availability_zone]) == toset(["xx-test-1a", "xx-test-1b"])
    error_message = "The subnets must spread over two zones."
  }
  assert {
    condition     = aws_route.private_nat.route_table_id == "rtb-0private000000000" && aws_route.private_nat.nat_gateway_id == "nat-0000000000000000a"
    error_message = "Private subnets must go out through the NAT gateway, not the internet gateway."
  }
  assert {
    condition     = aws_vpc_endpoint.s3.route_table_ids == toset(["rtb-0private000000000"])
    error_message = "Weight downloads must reach S3 through the gateway endpoint."
  }
}
