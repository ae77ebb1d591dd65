{{ header }}#
# /etc/resolv.conf names the host's own validating unbound (see
# mailops-firstboot): dhclient must not put the VPC's resolver back at each
# lease. dhclient-script sources this file before it would write the file.
make_resolv_conf() {
  :
}
