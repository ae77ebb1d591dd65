{{ header }}#
# The mail host {{ hostname }} and what the Internet needs to reach it: the
# instance (first boot configured by ../cloud-init/user-data.yaml), an Elastic
# IP, the host's A record in the {{ zone }} zone, the reverse DNS (PTR) record
# mail receivers check, and a security group for SMTP (25), submission (587)
# and IMAPS (993). Nothing here names a tenant: onboarding a domain adds only
# its own dns_<domain>.tf.
#
# Before the first apply: AWS blocks outbound port 25 on new accounts; ask AWS
# to remove the restriction, or the host cannot deliver mail to other domains.

terraform {
  # `terraform fmt` and the configuration checks in the test suite run 1.15.
  required_version = ">= 1.5.0"

  required_providers {
    # 5.46.0 is the first release with aws_eip_domain_name (the PTR record).
    aws = {
      source = "hashicorp/aws"
      version = "~> 5.46"
    }
  }
}

variable "region" {
  description = "AWS region of the mail host."
  type = string
  default = {{ region | hcl_string }}
}

variable "ami_id" {
  description = "AMI of the mail host: a Debian image with cloud-init, for the region."
  type = string
}

variable "key_pair_name" {
  description = "Name of the EC2 key pair allowed to log in over SSH."
  type = string
}

variable "admin_cidrs" {
  description = "Networks (IPv4 or IPv6 CIDR blocks) allowed to reach SSH on the mail host."
  type = list(string)
  default = [{% for cidr in admin_cidrs %}{{ cidr | hcl_string }}{% if not loop.last %}, {% endif %}{% endfor %}]
}

variable "vpc_id" {
  description = "VPC of the mail host's security group; null for the region's default VPC."
  type = string
  default = null
}

variable "subnet_id" {
  description = "Subnet of the mail host (in vpc_id); null for a default subnet of the default VPC."
  type = string
  default = null
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      ManagedBy = "mailops"
    }
  }
}

data "aws_route53_zone" "platform" {
{%- if zone_id %}
  zone_id = {{ zone_id | hcl_string }}
{%- else %}
  name = {{ zone | hcl_string }}
{%- endif %}
}

resource "aws_security_group" "mail" {
  name = "mailops-{{ hostname | hcl_escape }}"
  description = "mailops mail host: SMTP, submission, IMAPS"
  vpc_id = var.vpc_id

  tags = {
    Name = {{ hostname | hcl_string }}
  }
}

resource "aws_vpc_security_group_ingress_rule" "smtp" {
  security_group_id = aws_security_group.mail.id
  description = "SMTP from anywhere: the public MX of every tenant"
  ip_protocol = "tcp"
  from_port = 25
  to_port = 25
  cidr_ipv4 = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "submission" {
  security_group_id = aws_security_group.mail.id
  description = "Submission (STARTTLS, authenticated) from anywhere"
  ip_protocol = "tcp"
  from_port = 587
  to_port = 587
  cidr_ipv4 = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "imaps" {
  security_group_id = aws_security_group.mail.id
  description = "IMAP over TLS from anywhere"
  ip_protocol = "tcp"
  from_port = 993
  to_port = 993
  cidr_ipv4 = "0.0.0.0/0"
}

# Let's Encrypt's HTTP-01 challenge connects to port 80 when the certificate
# for {{ hostname }} is issued and at every renewal.
resource "aws_vpc_security_group_ingress_rule" "http" {
  security_group_id = aws_security_group.mail.id
  description = "HTTP from anywhere: Let's Encrypt HTTP-01 challenges"
  ip_protocol = "tcp"
  from_port = 80
  to_port = 80
  cidr_ipv4 = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "ssh" {
  for_each = toset(var.admin_cidrs)

  security_group_id = aws_security_group.mail.id
  description = "SSH from an admin network"
  ip_protocol = "tcp"
  from_port = 22
  to_port = 22
  # cidrnetmask() accepts only IPv4 prefixes.
  cidr_ipv4 = can(cidrnetmask(each.value)) ? each.value : null
  cidr_ipv6 = can(cidrnetmask(each.value)) ? null : each.value
}

resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.mail.id
  description = "Everything out: SMTP delivery, DNS, package updates"
  ip_protocol = "-1"
  cidr_ipv4 = "0.0.0.0/0"
}

resource "aws_instance" "mail" {
  ami = var.ami_id
  instance_type = {{ instance_type | hcl_string }}
  key_name = var.key_pair_name
  subnet_id = var.subnet_id
  vpc_security_group_ids = [aws_security_group.mail.id]
  # EC2 takes at most 16 KiB of user data; cloud-init unpacks gzip itself.
  user_data_base64 = base64gzip(file("${path.module}/../cloud-init/user-data.yaml"))

  root_block_device {
    volume_size = {{ volume_size_gb }}
    volume_type = "gp3"
    encrypted = true
  }

  metadata_options {
    http_tokens = "required"
  }

  tags = {
    Name = {{ hostname | hcl_string }}
  }

  lifecycle {
    # The mailboxes live on this instance's disk: never replace it silently.
    # cloud-init runs only at first boot, and later configuration reaches the
    # host through `mailops install`, so a new AMI or user data is no reason
    # to replace it either.
    prevent_destroy = true
    ignore_changes = [ami, user_data, user_data_base64]
  }
}

resource "aws_eip" "mail" {
  domain = "vpc"
  instance = aws_instance.mail.id

  tags = {
    Name = {{ hostname | hcl_string }}
  }
}

resource "aws_route53_record" "host" {
  zone_id = data.aws_route53_zone.platform.zone_id
  name = {{ hostname | hcl_string }}
  type = "A"
  ttl = {{ ttl }}
  records = [aws_eip.mail.public_ip]
}

# Reverse DNS: AWS sets the PTR only once the A record resolves to the address.
resource "aws_eip_domain_name" "mail" {
  allocation_id = aws_eip.mail.allocation_id
  domain_name = aws_route53_record.host.fqdn
}

output "public_ip" {
  description = "The mail host's Elastic IP."
  value = aws_eip.mail.public_ip
}

output "hostname" {
  description = "The mail host's name: the MX of every tenant domain."
  value = aws_route53_record.host.fqdn
}
