

# The hosts ([[hosts]] in mailops.toml), keyed by name.
locals {
  hosts = {
{%- for host in hosts.list %}
    {{ host.name | hcl_string }} = {
      hostname = {{ host.hostname | hcl_string }}
      private_ip = {{ host.private_ip | hcl_string }}
      instance_type = {{ host.instance_type | hcl_string }}
      volume_size_gb = {{ host.volume_size_gb }}
    }
{%- endfor %}
  }
}

# The private network of the hosts: one VPC and one subnet of
# [aws] private_cidr, routed to the Internet through its gateway.
resource "aws_vpc" "hosts" {
  cidr_block = {{ hosts.private_cidr | hcl_string }}
  enable_dns_support = true
  enable_dns_hostnames = true

  tags = {
    Name = "mailops-hosts"
  }
}

resource "aws_internet_gateway" "hosts" {
  vpc_id = aws_vpc.hosts.id

  tags = {
    Name = "mailops-hosts"
  }
}

resource "aws_subnet" "hosts" {
  vpc_id = aws_vpc.hosts.id
  cidr_block = {{ hosts.private_cidr | hcl_string }}

  tags = {
    Name = "mailops-hosts"
  }
}

resource "aws_route_table" "hosts" {
  vpc_id = aws_vpc.hosts.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.hosts.id
  }

  tags = {
    Name = "mailops-hosts"
  }
}

resource "aws_route_table_association" "hosts" {
  subnet_id = aws_subnet.hosts.id
  route_table_id = aws_route_table.hosts.id
}

# Between the hosts only (the source is their own security group, never the
# Internet): Galera replication, LMTP delivery to a mailbox's home host, the
# logins the Dovecot proxy forwards there, and the doveadm server that moves a
# mailbox's mail to its new home.
resource "aws_vpc_security_group_ingress_rule" "between_hosts" {
  for_each = {
{%- for rule in hosts.rules %}
    {{ rule.key | hcl_string }} = { protocol = {{ rule.protocol | hcl_string }}, port = {{ rule.port }}, description = {{ rule.description | hcl_string }} }
{%- endfor %}
  }

  security_group_id = aws_security_group.mail.id
  referenced_security_group_id = aws_security_group.mail.id
  description = each.value.description
  ip_protocol = each.value.protocol
  from_port = each.value.port
  to_port = each.value.port
}

# Growing from one host: the single host's resources become the primary
# host's, so its Elastic IP, A and PTR records are kept. Its instance moves
# into the private network, which Terraform can only do by replacing it:
# prevent_destroy stops that plan until its mail is moved (README, "Growing
# from one host to two").
moved {
  from = aws_instance.mail
  to = aws_instance.mail[{{ hosts.primary | hcl_string }}]
}

moved {
  from = aws_eip.mail
  to = aws_eip.mail[{{ hosts.primary | hcl_string }}]
}

moved {
  from = aws_route53_record.host
  to = aws_route53_record.host[{{ hosts.primary | hcl_string }}]
}

moved {
  from = aws_eip_domain_name.mail
  to = aws_eip_domain_name.mail[{{ hosts.primary | hcl_string }}]
}
