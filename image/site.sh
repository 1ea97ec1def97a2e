# The site file (qmin-site(5)): one description of a host, checked line by
# line, and every file that depends on it derived from it. Sourced by
# image/build.sh; run by hand or by tests as
#   bash image/site.sh check SITE          exit 0, or file:line errors and 1
#   bash image/site.sh derive SITE DIR     DIR/etc/... and DIR/grub-entry
# The file is read, never sourced: it is KEY=VALUE lines, '#' comments and
# blank lines; a value has no spaces and no quotes.
# shellcheck shell=bash

SITE_KEYS="DOM0_ADDRESS GATEWAY NETVM_ADDRESS NIC NIC_PCI USB_PCI WORKLOAD_ADDRESS WORKLOAD_TYPE
IMAGES ROOT_PASSWORD_HASH ROOT_PASSWORDLESS NIC_DRIVERS DOM0_MEM SERIAL OVERLAY"
SITE_REQUIRED="DOM0_ADDRESS GATEWAY NETVM_ADDRESS NIC_PCI IMAGES"

# ipv4_number ADDRESS: the address as one number, or failure. Leading zeros
# are refused: some tools read 010 as octal.
ipv4_number() {
	local IFS=. part number=0
	[[ $1 =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || return 1
	for part in $1; do
		[[ $part =~ ^(0|[1-9][0-9]*)$ ]] && [ "$part" -le 255 ] || return 1
		number=$((number * 256 + part))
	done
	echo "$number"
}

# same_network A B PREFIX: both addresses in one /PREFIX.
same_network() {
	local a b
	a=$(ipv4_number "$1") && b=$(ipv4_number "$2") || return 1
	[ $(((a ^ b) >> (32 - $3))) -eq 0 ]
}

# host_in_network ADDRESS NETWORK-ADDRESS PREFIX: in it, and neither its
# network nor its broadcast address.
host_in_network() {
	local host mask
	same_network "$1" "$2" "$3" || return 1
	host=$(($(ipv4_number "$1") & ((1 << (32 - $3)) - 1)))
	mask=$(((1 << (32 - $3)) - 1))
	[ "$host" -ne 0 ] && [ "$host" -ne "$mask" ]
}

# site_value_problem KEY VALUE: what is wrong with VALUE for KEY, or nothing.
site_value_problem() {
	local key=$1 value=$2
	case "$key" in
	DOM0_ADDRESS)
		local prefix=${value##*/}
		[[ $value =~ ^[0-9.]+/[0-9]{1,2}$ ]] && ipv4_number "${value%/*}" >/dev/null &&
			[ "$prefix" -ge 8 ] && [ "$prefix" -le 30 ] ||
			echo "DOM0_ADDRESS must be an IPv4 address with a prefix from /8 to /30 (192.0.2.10/24), not '$value'"
		;;
	GATEWAY | NETVM_ADDRESS | WORKLOAD_ADDRESS)
		ipv4_number "$value" >/dev/null || echo "$key must be an IPv4 address (192.0.2.1), not '$value'" ;;
	NIC) [[ $value =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || echo "NIC must be an interface name (eth0, enp3s0), not '$value'" ;;
	NIC_PCI | USB_PCI)
		[[ $value =~ ^[0-9a-f]{4}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$ ]] ||
			echo "$key must be a PCI address as lspci -D prints it (0000:03:00.0), not '$value'" ;;
	WORKLOAD_TYPE) [[ $value =~ ^(pv|pvh)$ ]] || echo "WORKLOAD_TYPE must be pv or pvh, not '$value'" ;;
	IMAGES)
		[[ $value == boot || $value =~ ^http://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$ ]] ||
			echo "IMAGES must be boot or an http:// URL (http://192.0.2.5:8080/qmin), not '$value'" ;;
	ROOT_PASSWORD_HASH)
		[[ $value =~ ^\$(5|6|y)\$[./A-Za-z0-9$=,]+$ ]] ||
			echo "ROOT_PASSWORD_HASH must be a crypt(3) hash (openssl passwd -6 prints one), not '$value'" ;;
	ROOT_PASSWORDLESS) [ "$value" = yes ] || echo "ROOT_PASSWORDLESS can only be yes, not '$value'" ;;
	NIC_DRIVERS)
		[[ $value =~ ^[a-z0-9_-]+(,[a-z0-9_-]+)*$ ]] ||
			echo "NIC_DRIVERS must be module names with commas between (sfc,ena), not '$value'" ;;
	DOM0_MEM) [[ $value =~ ^[1-9][0-9]*[MG]$ ]] || echo "DOM0_MEM must be a size in M or G (1024M), not '$value'" ;;
	SERIAL) [[ $value =~ ^(com1|com2|none)$ ]] || echo "SERIAL must be com1, com2 or none, not '$value'" ;;
	OVERLAY) [[ $value =~ ^[A-Za-z0-9._/-]+$ ]] || echo "OVERLAY must be a directory's path, not '$value'" ;;
	esac
}

# site_read FILE: the KEY=VALUE lines into SITE_<KEY> and their line numbers
# into SITE_LINE_<KEY>; prints FILE:LINE: problems, fails if there were any.
site_read() {
	local file=$1 line number=0 key value problem bad=0
	for key in $SITE_KEYS; do unset "SITE_$key" "SITE_LINE_$key"; done
	while IFS= read -r line || [ -n "$line" ]; do
		number=$((number + 1))
		[[ $line =~ ^[[:space:]]*(#.*)?$ ]] && continue
		if ! [[ $line =~ ^([A-Z_0-9]+)=([^[:space:]\"\']*)$ ]]; then
			echo "$file:$number: not KEY=VALUE (a value has no spaces or quotes): $line" && bad=1 && continue
		fi
		key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
		if ! [[ " ${SITE_KEYS//$'\n'/ } " == *" $key "* ]]; then
			echo "$file:$number: unknown key $key (qmin-site(5) lists the keys)" && bad=1 && continue
		fi
		local line_var="SITE_LINE_$key"
		if [ -n "${!line_var:-}" ]; then
			echo "$file:$number: $key is given twice (first on line ${!line_var})" && bad=1 && continue
		fi
		printf -v "SITE_$key" '%s' "$value"
		printf -v "$line_var" '%s' "$number"
		problem=$(site_value_problem "$key" "$value")
		[ -z "$problem" ] || { echo "$file:$number: $problem" && bad=1; }
	done <"$file"
	return "$bad"
}

# site_where KEY: FILE:LINE of KEY, or FILE: when the key is missing.
site_where() {
	local line_var="SITE_LINE_$1"
	echo "$SITE_FILE:${!line_var:-}"
}

# site_relations: what single values cannot show (run after site_read passed).
site_relations() {
	local key var bad=0 dom0=${SITE_DOM0_ADDRESS%/*} prefix=${SITE_DOM0_ADDRESS#*/}
	for key in $SITE_REQUIRED; do
		var="SITE_$key"
		[ -n "${!var:-}" ] || { echo "$SITE_FILE: $key is missing (qmin-site(5))" && bad=1; }
	done
	[ "$bad" -eq 0 ] || return 1
	host_in_network "$dom0" "$dom0" "$prefix" ||
		{ echo "$(site_where DOM0_ADDRESS): $dom0 is the network's or broadcast address of /$prefix" && bad=1; }
	for key in GATEWAY NETVM_ADDRESS WORKLOAD_ADDRESS; do
		var="SITE_$key"
		[ -n "${!var:-}" ] || continue
		host_in_network "${!var}" "$dom0" "$prefix" ||
			{ echo "$(site_where "$key"): $key ${!var} is not a host of $SITE_DOM0_ADDRESS's network" && bad=1; }
		[ "${!var}" != "$dom0" ] || { echo "$(site_where "$key"): $key is dom0's own address" && bad=1; }
	done
	[ "$SITE_NETVM_ADDRESS" != "$SITE_GATEWAY" ] ||
		{ echo "$(site_where NETVM_ADDRESS): NETVM_ADDRESS is the gateway's address" && bad=1; }
	case "${SITE_WORKLOAD_ADDRESS:-}" in "$SITE_NETVM_ADDRESS" | "$SITE_GATEWAY")
		echo "$(site_where WORKLOAD_ADDRESS): WORKLOAD_ADDRESS is taken by the net-vm or the gateway" && bad=1 ;;
	esac
	[ "${SITE_USB_PCI:-}" != "$SITE_NIC_PCI" ] ||
		{ echo "$(site_where USB_PCI): USB_PCI is the NIC's address" && bad=1; }
	if [ -n "${SITE_ROOT_PASSWORD_HASH:-}" ] && [ -n "${SITE_ROOT_PASSWORDLESS:-}" ]; then
		echo "$(site_where ROOT_PASSWORDLESS): ROOT_PASSWORDLESS and ROOT_PASSWORD_HASH exclude each other" && bad=1
	elif [ -z "${SITE_ROOT_PASSWORD_HASH:-}" ] && [ -z "${SITE_ROOT_PASSWORDLESS:-}" ]; then
		echo "$SITE_FILE: no ROOT_PASSWORD_HASH: root would log in on the console without a password" \
			"(set one with openssl passwd -6, or ROOT_PASSWORDLESS=yes to leave root open on purpose)" && bad=1
	fi
	if [ -n "${SITE_OVERLAY:-}" ] && [ ! -d "$(site_overlay)" ]; then
		echo "$(site_where OVERLAY): no directory $(site_overlay)" && bad=1
	fi
	return "$bad"
}

# site_overlay: OVERLAY's directory; a relative path is the site file's.
site_overlay() {
	case "$SITE_OVERLAY" in /*) echo "$SITE_OVERLAY" ;; *) echo "$(dirname "$SITE_FILE")/$SITE_OVERLAY" ;; esac
}

# site_load FILE: reads and checks the site file, with defaults for what it
# leaves out; every problem printed as FILE:LINE: WHAT.
site_load() {
	SITE_FILE=$1
	[ -r "$SITE_FILE" ] || { echo "$SITE_FILE: cannot read the site file" && return 1; }
	site_read "$SITE_FILE" || return 1
	site_relations || return 1
	: "${SITE_NIC:=eth0}" "${SITE_WORKLOAD_TYPE:=pvh}" "${SITE_DOM0_MEM:=1024M}" "${SITE_SERIAL:=com1}"
	: "${SITE_ROOT_PASSWORD_HASH:=}" "${SITE_USB_PCI:=}" "${SITE_WORKLOAD_ADDRESS:=}" "${SITE_NIC_DRIVERS:=}"
}

# shellcheck source=image/site-files.sh
. "$(dirname "${BASH_SOURCE[0]}")/site-files.sh"

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	case "${1:-} $#" in
	"check 2") site_load "$2" ;;
	"derive 3") site_load "$2" && site_derive "$3" ;;
	*) echo "usage: site.sh check SITE | site.sh derive SITE DIR" >&2 && exit 2 ;;
	esac
fi
