{{ header }}#
{{ summary | hcl_comment }}
{%- if description %}#
{{ description | hcl_comment }}
{%- endif %}
{%- if managed %}

data "aws_route53_zone" "{{ domain | tf_name }}" {
{%- if zone_id %}
  zone_id = {{ zone_id | hcl_string }}
{%- else %}
  name = {{ domain | hcl_string }}
{%- endif %}
}

resource "aws_route53_record" "{{ domain | tf_name }}_mx" {
  zone_id = data.aws_route53_zone.{{ domain | tf_name }}.zone_id
  name = {{ domain | hcl_string }}
  type = "MX"
  ttl = {{ ttl }}
  records = [{% for value in mx %}{{ value | hcl_string }}{% if not loop.last %}, {% endif %}{% endfor %}]
}

resource "aws_route53_record" "{{ domain | tf_name }}_spf" {
  zone_id = data.aws_route53_zone.{{ domain | tf_name }}.zone_id
  name = {{ domain | hcl_string }}
  type = "TXT"
  ttl = {{ ttl }}
  records = [{{ spf | route53_txt | hcl_string }}]
}

resource "aws_route53_record" "{{ domain | tf_name }}_dmarc" {
  zone_id = data.aws_route53_zone.{{ domain | tf_name }}.zone_id
  name = {{ dmarc_name | hcl_string }}
  type = "TXT"
  ttl = {{ ttl }}
  records = [{{ dmarc | route53_txt | hcl_string }}]
}
{%- for key in dkim %}

resource "aws_route53_record" "{{ domain | tf_name }}_{{ key.resource | tf_name }}" {
  zone_id = data.aws_route53_zone.{{ domain | tf_name }}.zone_id
  name = {{ key.name | hcl_string }}
  type = "TXT"
  ttl = {{ ttl }}
  records = [{{ key.record | route53_txt | hcl_string }}]
}
{%- endfor %}
{%- endif %}
