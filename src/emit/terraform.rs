//! Terraform for the mail host and each tenant's Route53 records.
//!
//! `terraform/main.tf` holds everything about the platform (provider, the
//! instance, its address, PTR, security group, the host's A record) and is a
//! function of `mailops.toml` alone, so onboarding a tenant never touches it.
//! Each tenant gets `terraform/dns_<domain>.tf` with its MX, SPF, DMARC and
//! DKIM records, named after the domain (`aws_route53_record.acme_example_mx`,
//! see [`hcl::identifier`]) so that a tenant's resources keep their addresses
//! however the set of tenants changes.
//!
//! Names in main.tf's `aws_route53_record` and `aws_route53_zone` blocks
//! (`host`, `platform`) hold no `_`; tenant names always do (every domain has
//! a dot), so the two can never collide.
//!
//! Templates give the shape; values go through the `hcl_*`, `tf_name` and
//! `route53_txt` filters; [`hcl_format::format`] then lays the text out the
//! way `terraform fmt` does.

use serde::Serialize;

use crate::emit::header::header;
use crate::emit::{Artifacts, engine, hcl, hcl_format, render};
use crate::model::{Domain, Model, Platform};

const MAIN_TF: &str = include_str!("templates/terraform/main.tf");
const DNS_TF: &str = include_str!("templates/terraform/dns.tf");

/// Add `terraform/main.tf` and one `terraform/dns_<domain>.tf` per tenant.
pub(crate) fn emit(model: &Model, out: &mut Artifacts) {
    let tera = engine(&[("main.tf", MAIN_TF), ("dns.tf", DNS_TF)]);
    out.add("terraform/main.tf", main_tf(&tera, &model.platform));
    for domain in model.domains.values() {
        out.add(dns_path(&domain.name), dns_tf(&tera, &model.platform, domain));
    }
}

/// `terraform/dns_<A-label>.tf`.
pub(crate) fn dns_path(domain: &str) -> String {
    format!("terraform/dns_{domain}.tf")
}

#[derive(Serialize)]
struct MainContext<'a> {
    header: String,
    hostname: &'a str,
    zone: &'a str,
    zone_id: Option<&'a str>,
    region: &'a str,
    instance_type: &'a str,
    volume_size_gb: u32,
    admin_cidrs: &'a [String],
    ttl: u32,
}

fn main_tf(tera: &tera::Tera, platform: &Platform) -> String {
    let context = MainContext {
        header: header("#", "mailops.toml"),
        hostname: &platform.hostname,
        zone: &platform.zone,
        zone_id: platform.zone_id.as_deref(),
        region: &platform.aws.region,
        instance_type: &platform.aws.instance_type,
        volume_size_gb: platform.aws.volume_size_gb,
        admin_cidrs: &platform.aws.admin_cidrs,
        ttl: platform.defaults.ttl,
    };
    to_hcl(tera, "main.tf", &context)
}

#[derive(Serialize)]
struct DnsContext<'a> {
    header: String,
    summary: String,
    description: Option<&'a str>,
    domain: &'a str,
    zone_id: Option<&'a str>,
    ttl: u32,
    mx: String,
    spf: String,
    dmarc_name: String,
    dmarc: String,
    dkim_name: String,
    dkim: String,
}

fn dns_tf(tera: &tera::Tera, platform: &Platform, domain: &Domain) -> String {
    let name = &domain.name;
    let shown = if domain.unicode == *name {
        name.clone()
    } else {
        format!("{name} ({})", domain.unicode)
    };
    let dkim = domain.dkim.record();
    // Every record mailops publishes is ASCII; `route53::split_strings`
    // would still never cut a character, but the 255-octet cut is exact only
    // for ASCII.
    debug_assert!(dkim.is_ascii() && domain.spf.record().is_ascii() && domain.dmarc.record().is_ascii());
    debug_assert!(hcl::is_identifier(&hcl::identifier(name)), "{name}");
    let context = DnsContext {
        header: header("#", &domain.file),
        summary: format!("Route53 records of the tenant {shown}: MX, SPF, DMARC and DKIM."),
        description: domain.description.as_deref().filter(|d| !d.trim().is_empty()),
        domain: name,
        zone_id: domain.zone_id.as_deref(),
        ttl: domain.ttl,
        mx: format!("10 {}.", platform.hostname),
        spf: domain.spf.record(),
        dmarc_name: format!("_dmarc.{name}"),
        dmarc: domain.dmarc.record(),
        dkim_name: format!("{}._domainkey.{name}", domain.dkim.selector),
        dkim,
    };
    to_hcl(tera, "dns.tf", &context)
}

fn to_hcl(tera: &tera::Tera, template: &str, context: &impl Serialize) -> String {
    let context = tera::Context::from_serialize(context)
        .unwrap_or_else(|e| panic!("{template} context serialises: {e}"));
    hcl_format::format(&render(tera, template, &context))
}
