# Values the mock AWS provider returns where its random strings would fail the provider's own
# checks (ARNs must parse) or leave lists empty (zones), shared by every test file.

mock_data "aws_availability_zones" {
  defaults = {
    names = ["xx-test-1a", "xx-test-1b", "xx-test-1c"]
  }
}

mock_data "aws_region" {
  defaults = {
    name = "xx-test-1"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition = "aws"
  }
}

mock_resource "aws_lb" {
  defaults = {
    arn      = "arn:aws:elasticloadbalancing:xx-test-1:123456789012:loadbalancer/app/sirocco-gateway/0123456789abcdef"
    dns_name = "sirocco-gateway-123456789.xx-test-1.elb.amazonaws.com"
  }
}

mock_resource "aws_lb_target_group" {
  defaults = {
    arn = "arn:aws:elasticloadbalancing:xx-test-1:123456789012:targetgroup/sirocco-gateway/0123456789abcdef"
  }
}

mock_resource "aws_iam_instance_profile" {
  defaults = {
    arn = "arn:aws:iam::123456789012:instance-profile/sirocco"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/sirocco"
  }
}

mock_resource "aws_s3_bucket" {
  defaults = {
    id  = "sirocco-weights-test"
    arn = "arn:aws:s3:::sirocco-weights-test"
  }
}

mock_resource "aws_ssm_parameter" {
  defaults = {
    arn = "arn:aws:ssm:xx-test-1:123456789012:parameter/sirocco/secret"
  }
}

mock_resource "aws_autoscaling_group" {
  defaults = {
    arn = "arn:aws:autoscaling:xx-test-1:123456789012:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/sirocco-nodes"
  }
}

mock_resource "aws_launch_template" {
  defaults = {
    id             = "lt-0123456789abcdef0"
    latest_version = 1
  }
}

# RDS keeps the master password in a Secrets Manager secret it names itself ("rds!db-…").
mock_resource "aws_db_instance" {
  defaults = {
    address = "sirocco-db.c0abcdefghij.xx-test-1.rds.amazonaws.com"
    master_user_secret = [{
      secret_arn    = "arn:aws:secretsmanager:xx-test-1:123456789012:secret:rds!db-00000000-0000-0000-0000-000000000000-AbCdEf"
      kms_key_id    = "arn:aws:kms:xx-test-1:123456789012:key/00000000-0000-0000-0000-000000000000"
      secret_status = "active"
    }]
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:xx-test-1:123456789012:log-group:/aws/lambda/sirocco-edge"
  }
}
