{{ header }}#
{{ summary | hcl_comment }}
{%- if description %}#
{{ description | hcl_comment }}
{%- endif %}
{%- if managed %}
{%- for zone in zones %}
{%- if not zone.zone_id %}

data "aws_route53_zone" "{{ zone.domain | tf_name }}" {
  name = {{ zone.domain | hcl_string }}
}
{%- endif %}

resource "aws_route53_record" "{{ zone.domain | tf_name }}_mx" {
  zone_id = {{ zone.zone_ref }}
  name = {{ zone.domain | hcl_string }}
  type = "MX"
  ttl = {{ ttl }}
  records = [{% for value in mx %}{{ value | hcl_string }}{% if not loop.last %}, {% endif %}{% endfor %}]
}

resource "aws_route53_record" "{{ zone.domain | tf_name }}_spf" {
  zone_id = {{ zone.zone_ref }}
  name = {{ zone.domain | hcl_string }}
  type = "TXT"
  ttl = {{ ttl }}
  records = [{{ spf | route53_txt | hcl_string }}]
}

resource "aws_route53_record" "{{ zone.domain | tf_name }}_dmarc" {
  zone_id = {{ zone.zone_ref }}
  name = {{ zone.dmarc_name | hcl_string }}
  type = "TXT"
  ttl = {{ ttl }}
  records = [{{ dmarc | route53_txt | hcl_string }}]
}
{%- for key in zone.dkim %}

resource "aws_route53_record" "{{ zone.domain | tf_name }}_{{ key.resource | tf_name }}" {
  zone_id = {{ zone.zone_ref }}
  name = {{ key.name | hcl_string }}
  type = "TXT"
  ttl = {{ ttl }}
  records = [{{ key.record | route53_txt | hcl_string }}]
}
{%- endfor %}
{%- for record in zone.mta_sts %}

resource "aws_route53_record" "{{ zone.domain | tf_name }}_{{ record.resource }}" {
  zone_id = {{ zone.zone_ref }}
  name = {{ record.name | hcl_string }}
  type = "{{ record.rtype }}"
  ttl = {{ ttl }}
  records = [{{ record.value | hcl_string }}]
}
{%- endfor %}
{%- if zone.bimi %}

resource "aws_route53_record" "{{ zone.domain | tf_name }}_bimi" {
  zone_id = {{ zone.zone_ref }}
  name = {{ zone.bimi.0 | hcl_string }}
  type = "TXT"
  ttl = {{ ttl }}
  records = [{{ zone.bimi.1 | route53_txt | hcl_string }}]
}
{%- endif %}
{%- endfor %}
{%- endif %}
{%- for zone in zones %}
{%- for report in zone.dmarc_reports %}

resource "aws_route53_record" "{{ zone.domain | tf_name }}_{{ report.resource | tf_name }}" {
  zone_id = {{ report.zone_ref }}
  name = {{ report.name | hcl_string }}
  type = "TXT"
  ttl = {{ ttl }}
  records = [{{ report.record | hcl_string }}]
}
{%- endfor %}
{%- endfor %}
{%- for report in report_zones %}
{%- if report.lookup %}

# The zone of {{ report.domain }}, which receives this tenant's DMARC reports
# ([mail_host] dmarc_report_domains) and authorizes them here.
data "aws_route53_zone" "{{ report.domain | tf_name }}" {
  name = {{ report.domain | hcl_string }}
}
{%- endif %}
{%- endfor %}
{%- if managed %}
{%- include "dnssec.tf" %}
{%- endif %}
