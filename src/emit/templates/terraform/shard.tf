{{ header }}#
# Terraform root {{ root }} ({{ shard_number }} of {{ shards }}): the Route53 records of the
# tenants whose domain falls in this shard (the first eight octets of the
# SHA-256 of the domain, big-endian, modulo {{ shards }}), one dns_<domain>.tf each.
# The root has its own state (key mailops/{{ root }}.tfstate, see ../README.md)
# and refers to no other root: the MX target is the mail host's name, which
# mailops knows when it compiles. This file is there even when no tenant is,
# so that the records of a shard's last tenant are destroyed, not orphaned.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      version = "~> 5.46"
    }
  }
}

variable "region" {
  description = "AWS region of the provider (Route53 itself is global)."
  type = string
  default = {{ region | hcl_string }}

  validation {
    condition = can(regex("^[a-z0-9-]+$", var.region))
    error_message = "The region is a name such as eu-west-1."
  }
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
# (a tenant's `[dns] dnssec = true`) in a KMS key in us-east-1, whatever
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
