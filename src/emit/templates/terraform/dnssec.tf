{%- if dnssec %}

# DNSSEC (`dnssec = true`): Route53 signs {{ signed_zones }} with a
# key-signing key held in this KMS key (in us-east-1, where Route53 wants it).
# The zone's registrar must publish its DS record: `mailops dns records`
# prints it from the zone's live DNSKEY, and the output below holds it too.
data "aws_partition" "{{ key_id }}" {}

data "aws_caller_identity" "{{ key_id }}" {}

# The key policy Route53's DNSSEC service needs: use the key (for zones of
# this account only), and grant itself that use; the account administers it.
data "aws_iam_policy_document" "{{ key_id }}" {
  statement {
    sid = "Route53DnssecService"
    actions = ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"]
    resources = ["*"]

    principals {
      type = "Service"
      identifiers = ["dnssec-route53.amazonaws.com"]
    }

    condition {
      test = "StringEquals"
      variable = "aws:SourceAccount"
      values = [data.aws_caller_identity.{{ key_id }}.account_id]
    }

    condition {
      test = "ArnLike"
      variable = "aws:SourceArn"
      values = ["arn:${data.aws_partition.{{ key_id }}.partition}:route53:::hostedzone/*"]
    }
  }

  statement {
    sid = "Route53DnssecGrant"
    actions = ["kms:CreateGrant"]
    resources = ["*"]

    principals {
      type = "Service"
      identifiers = ["dnssec-route53.amazonaws.com"]
    }

    condition {
      test = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values = ["true"]
    }
  }

  statement {
    sid = "AccountAdministersTheKey"
    actions = ["kms:*"]
    resources = ["*"]

    principals {
      type = "AWS"
      identifiers = ["arn:${data.aws_partition.{{ key_id }}.partition}:iam::${data.aws_caller_identity.{{ key_id }}.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "{{ key_id }}" {
  provider = aws.us_east_1
  description = {{ key_description | hcl_string }}
  customer_master_key_spec = "ECC_NIST_P256"
  key_usage = "SIGN_VERIFY"
  deletion_window_in_days = 30
  policy = data.aws_iam_policy_document.{{ key_id }}.json
}
{%- for zone in dnssec_zones %}

resource "aws_route53_key_signing_key" "{{ zone.domain | tf_name }}" {
  hosted_zone_id = {{ zone.zone_ref }}
  key_management_service_arn = aws_kms_key.{{ key_id }}.arn
  name = "mailops"
}

resource "aws_route53_hosted_zone_dnssec" "{{ zone.domain | tf_name }}" {
  hosted_zone_id = aws_route53_key_signing_key.{{ zone.domain | tf_name }}.hosted_zone_id
}

output "{{ zone.domain | tf_name }}_ds" {
  description = {{ zone.ds_description | hcl_string }}
  value = aws_route53_key_signing_key.{{ zone.domain | tf_name }}.ds_record
}
{%- endfor %}
{%- endif %}