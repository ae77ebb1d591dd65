{{ header }}#
# The mail host {{ hostname }} and what the Internet needs to reach it: the
# instance (first boot configured by ../../cloud-init/user-data.yaml), an Elastic
# IP, the host's A record in the {{ zone }} zone, the reverse DNS (PTR) record
# mail receivers check, a security group for SMTP (25), submission (587)
# and IMAPS (993){% if pop3 %} and POP3S (995){% endif %}, and the instance profile through which the host reads its
# deploy key (and publishes its age recipient) in SSM Parameter Store, each
# parameter named alone. Nothing here names a tenant: the tenants' records are
# in the roots ../dns-*/ (see ../README.md), and no root refers to this one.
#
{%- if hosts %}
# Several hosts ([[hosts]] in mailops.toml): {{ hosts.names }}. Each has its
# instance, Elastic IP, A and PTR records (keyed by host name, so adding a host
# adds resources and changes none); they share the security group and a private
# network ({{ hosts.private_cidr }}), where each instance has its private_ip and
# reaches the others for Galera, LMTP and the proxied logins ({{ hosts.primary }} is
# the primary host, {{ hostname }}).
#
{%- endif %}
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

  validation {
    condition = can(regex("^[a-z0-9-]+$", var.region))
    error_message = "The region is a name such as eu-west-1."
  }
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

{% if not hosts %}
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
{%- endif %}

# What the first boot needs beyond the generated user data. Values reach the
# host in a base64 settings file, one `key=value` line each: every variable
# below is checked here to a character set that needs no quoting in that file,
# in a shell word or in a TOML string, and checked again on the host.

variable "mailops_release_url" {
  description = "HTTPS URL of the mailops binary (Linux, the instance's architecture) the host installs at first boot."
  type = string

  validation {
    condition = can(regex("^https://[A-Za-z0-9._~:/?#@!$&()*+,;=%-]+$", var.mailops_release_url))
    error_message = "The release URL must start with https:// and hold no quote, backslash, space or control character."
  }
}

variable "mailops_release_sha256" {
  description = "SHA-256 of the binary at mailops_release_url (64 lowercase hex digits); the host refuses any other file."
  type = string

  validation {
    condition = can(regex("^[0-9a-f]{64}$", var.mailops_release_sha256))
    error_message = "The sha256 is 64 lowercase hexadecimal digits (sha256sum's output)."
  }
}

variable "repo_url" {
  description = "The mail repo the host's reconcile agent pulls (git@host:org/repo.git or https://...)."
  type = string

  validation {
    condition = can(regex("^[A-Za-z0-9._~:/@+=,%-]+$", var.repo_url))
    error_message = "The repo URL may hold letters, digits and . _ ~ : / @ + = , % - only."
  }
}

variable "repo_branch" {
  description = "The branch of the mail repo the host follows."
  type = string
  default = "main"

  validation {
    condition = can(regex("^[A-Za-z0-9._/-]+$", var.repo_branch))
    error_message = "The branch may hold letters, digits and . _ / - only."
  }
}

variable "repo_known_hosts" {
  description = "known_hosts line(s) of the git server's SSH host key; empty: the first connection's key is trusted and kept."
  type = string
  default = ""

  validation {
    condition = can(regex("^[A-Za-z0-9@.,:_+/=\\[\\] -]*$", var.repo_known_hosts))
    error_message = "A known_hosts line holds a host pattern, a key type and a base64 key, on one line."
  }
}

variable "deploy_key_parameter" {
  description = "SSM SecureString parameter holding the repo's read-only SSH deploy key; the host may read this parameter only."
  type = string

  validation {
    condition = can(regex("^/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.deploy_key_parameter))
    error_message = "An SSM parameter name: letters, digits and _ . - in /-separated parts."
  }
}

variable "recipient_parameter" {
  description = "SSM parameter to which the host publishes its age recipient; empty: only printed to the console."
  type = string
  default = ""

  validation {
    condition = var.recipient_parameter == "" || can(regex("^/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.recipient_parameter))
    error_message = "An SSM parameter name: letters, digits and _ . - in /-separated parts."
  }
}

locals {
  # Read by the first boot from /etc/mailops/boot.env (see ../../cloud-init).
  boot_settings = join("", [
    "region=${var.region}\n",
    "release_url=${var.mailops_release_url}\n",
    "release_sha256=${var.mailops_release_sha256}\n",
    "repo_url=${var.repo_url}\n",
    "repo_branch=${var.repo_branch}\n",
    "repo_known_hosts=${var.repo_known_hosts}\n",
    "deploy_key_parameter=${var.deploy_key_parameter}\n",
    "recipient_parameter=${var.recipient_parameter}\n",
  ])
  # arn:<partition>:ssm:<region>:<account>:parameter/ (a name's leading / dropped).
  parameter_arn = join(":", ["arn", data.aws_partition.current.partition, "ssm", var.region, data.aws_caller_identity.current.account_id, "parameter/"])
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      ManagedBy = "mailops"
    }
  }
}

# Route53 keeps the key-signing key of a signed zone
# ([mail_host] dnssec = true) in a KMS key in us-east-1, whatever
# the region. Declared even when nothing uses it, so that what was made
# with it can always be destroyed.
provider "aws" {
  alias = "us_east_1"
  region = "us-east-1"

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
  vpc_id = {% if hosts %}aws_vpc.hosts.id{% else %}var.vpc_id{% endif %}

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
{% if pop3 %}
# POP3 over TLS ([mail_host] pop3 = true); plain POP3 (110) stays closed.
resource "aws_vpc_security_group_ingress_rule" "pop3s" {
  security_group_id = aws_security_group.mail.id
  description = "POP3 over TLS from anywhere"
  ip_protocol = "tcp"
  from_port = 995
  to_port = 995
  cidr_ipv4 = "0.0.0.0/0"
}
{% endif %}
# Let's Encrypt's HTTP-01 challenge connects to port 80 when a certificate
# (for {{ hostname }}, and each tenant's mta-sts. and autoconfig. names) is
# issued and at every renewal; nginx answers it, and redirects the rest.
resource "aws_vpc_security_group_ingress_rule" "http" {
  security_group_id = aws_security_group.mail.id
  description = "HTTP from anywhere: Let's Encrypt HTTP-01 challenges"
  ip_protocol = "tcp"
  from_port = 80
  to_port = 80
  cidr_ipv4 = "0.0.0.0/0"
}

# nginx serves each tenant's MTA-STS policy and autoconfig file over HTTPS.
resource "aws_vpc_security_group_ingress_rule" "https" {
  security_group_id = aws_security_group.mail.id
  description = "HTTPS from anywhere: MTA-STS policies, mail client autoconfig"
  ip_protocol = "tcp"
  from_port = 443
  to_port = 443
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

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

# Least privilege: read the deploy key, and write the recipient parameter when
# there is one; no other parameter, no other action. A SecureString under the
# AWS-managed key aws/ssm needs no KMS grant; with a key of your own, add
# kms:Decrypt on it.
data "aws_iam_policy_document" "parameters" {
  statement {
    sid = "ReadDeployKey"
    actions = ["ssm:GetParameter"]
    resources = [format("%s%s", local.parameter_arn, trimprefix(var.deploy_key_parameter, "/"))]
  }

  dynamic "statement" {
    for_each = var.recipient_parameter == "" ? [] : [var.recipient_parameter]

    content {
      sid = "PublishRecipient"
      actions = ["ssm:PutParameter"]
      resources = [format("%s%s", local.parameter_arn, trimprefix(statement.value, "/"))]
    }
  }
}

resource "aws_iam_role" "mail" {
  name_prefix = "mailops-host-"
  description = "mailops mail host {{ hostname | hcl_escape }}"
  assume_role_policy = data.aws_iam_policy_document.assume_role.json
}

resource "aws_iam_role_policy" "parameters" {
  name = "mailops-parameters"
  role = aws_iam_role.mail.id
  policy = data.aws_iam_policy_document.parameters.json
}

resource "aws_iam_instance_profile" "mail" {
  name_prefix = "mailops-host-"
  role = aws_iam_role.mail.name
}

resource "aws_instance" "mail" {
{%- if hosts %}
  for_each = local.hosts
{% endif %}
  ami = var.ami_id
{%- if hosts %}
  instance_type = each.value.instance_type
  key_name = var.key_pair_name
  subnet_id = aws_subnet.hosts.id
  private_ip = each.value.private_ip
{%- else %}
  instance_type = {{ instance_type | hcl_string }}
  key_name = var.key_pair_name
  subnet_id = var.subnet_id
{%- endif %}
  vpc_security_group_ids = [aws_security_group.mail.id]
  iam_instance_profile = aws_iam_instance_profile.mail.name
  # The generated user data with the settings above in place of its
  # placeholder. EC2 takes at most 16 KiB; cloud-init unpacks gzip itself.
  user_data_base64 = base64gzip(replace(file("${path.module}/../../cloud-init/user-data.yaml"), {{ boot_settings_placeholder | hcl_string }}, base64encode(local.boot_settings)))

  root_block_device {
    volume_size = {% if hosts %}each.value.volume_size_gb{% else %}{{ volume_size_gb }}{% endif %}
    volume_type = "gp3"
    encrypted = true
  }

  metadata_options {
    http_tokens = "required"
{%- if hosts %}
    # The first boot reads the tag `mailops-host` below (IMDSv2,
    # /latest/meta-data/tags/instance/mailops-host): which host it is.
    instance_metadata_tags = "enabled"
{%- endif %}
  }

  tags = {
    Name = {% if hosts %}each.value.hostname{% else %}{{ hostname | hcl_string }}{% endif %}
{%- if hosts %}
    mailops-host = each.key
{%- endif %}
  }

  lifecycle {
    # The mailboxes live on this instance's disk: never replace it silently.
    # cloud-init runs only at first boot, and later configuration reaches the
    # host through its reconcile agent (`mailops reconcile`), so a new AMI or
    # user data is no reason to replace it either.
    prevent_destroy = true
    ignore_changes = [ami, user_data, user_data_base64]
  }
}

{% if hosts %}
resource "aws_eip" "mail" {
  for_each = local.hosts

  domain = "vpc"
  instance = aws_instance.mail[each.key].id
  # An Elastic IP in a VPC needs its internet gateway attached first.
  depends_on = [aws_internet_gateway.hosts]

  tags = {
    Name = each.value.hostname
  }
}

resource "aws_route53_record" "host" {
  for_each = local.hosts

  zone_id = data.aws_route53_zone.platform.zone_id
  name = each.value.hostname
  type = "A"
  ttl = {{ ttl }}
  records = [aws_eip.mail[each.key].public_ip]
}
{%- else %}
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
{%- endif %}
{%- if tlsa %}

# DANE for mail to this host (RFC 7672): the TLSA records of its TLS key
# ([mail_host] tlsa, from `mailops tls tlsa`): the current key's and, during
# a rollover, the next key's. Senders use them only in a signed zone.
resource "aws_route53_record" "tlsa" {
  zone_id = data.aws_route53_zone.platform.zone_id
  name = {{ tlsa_name | hcl_string }}
  type = "TLSA"
  ttl = 300
  records = [{% for value in tlsa %}{{ value | hcl_string }}{% if not loop.last %}, {% endif %}{% endfor %}]
}
{%- endif %}
{%- if hosts and hosts.tlsa %}

# DANE for mail to each other host: its own key's TLSA records
# ([[hosts]] tlsa), at _25._tcp.<its hostname>.
resource "aws_route53_record" "host_tlsa" {
  for_each = {
{%- for host in hosts.tlsa %}
    {{ host.name | hcl_string }} = {
      name = {{ host.record_name | hcl_string }}
      records = [{% for value in host.records %}{{ value | hcl_string }}{% if not loop.last %}, {% endif %}{% endfor %}]
    }
{%- endfor %}
  }

  zone_id = data.aws_route53_zone.platform.zone_id
  name = each.value.name
  type = "TLSA"
  ttl = 300
  records = each.value.records
}
{%- endif %}

{%- if srs %}
# SRS ([mail_host] srs): mail forwarded off the platform leaves with envelope
# senders at {{ srs.domain }}. Receivers check this SPF record{% if srs.mx %}, and bounces
# reach the host through the MX record{% else %}; bounces reach
# the host through its A record{% endif %}.
resource "aws_route53_record" "srs_spf" {
  zone_id = data.aws_route53_zone.platform.zone_id
  name = {{ srs.domain | hcl_string }}
  type = "TXT"
  ttl = {{ ttl }}
  records = [{{ srs.spf | hcl_string }}]
}
{%- if srs.mx %}

resource "aws_route53_record" "srs_mx" {
  zone_id = data.aws_route53_zone.platform.zone_id
  name = {{ srs.domain | hcl_string }}
  type = "MX"
  ttl = {{ ttl }}
  records = [{% for value in srs.mx %}{{ value | hcl_string }}{% if not loop.last %}, {% endif %}{% endfor %}]
}
{%- endif %}

{% endif -%}
# Reverse DNS: AWS sets the PTR only once the A record resolves to the address.
{%- if hosts %}
resource "aws_eip_domain_name" "mail" {
  for_each = local.hosts

  allocation_id = aws_eip.mail[each.key].allocation_id
  domain_name = aws_route53_record.host[each.key].fqdn
}
{%- include "hosts.tf" %}
{%- else %}
resource "aws_eip_domain_name" "mail" {
  allocation_id = aws_eip.mail.allocation_id
  domain_name = aws_route53_record.host.fqdn
}
{%- endif %}
{%- include "dnssec.tf" %}
{%- if hosts %}

output "public_ip" {
  description = "The primary mail host's Elastic IP."
  value = aws_eip.mail[{{ hosts.primary | hcl_string }}].public_ip
}

output "hostname" {
  description = "The primary mail host's name."
  value = aws_route53_record.host[{{ hosts.primary | hcl_string }}].fqdn
}

output "hosts" {
  description = "Each mail host by name: its hostname, Elastic IP and private address."
  value = {
    for name, host in local.hosts : name => {
      hostname = host.hostname
      public_ip = aws_eip.mail[name].public_ip
      private_ip = host.private_ip
    }
  }
}
{%- else %}

output "public_ip" {
  description = "The mail host's Elastic IP."
  value = aws_eip.mail.public_ip
}

output "hostname" {
  description = "The mail host's name: the MX of every tenant domain."
  value = aws_route53_record.host.fqdn
}
{%- endif %}
