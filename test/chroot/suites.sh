# test/chroot/suites.sh: sourced by the chroot scripts.
# Which Debian suite ships which PostgreSQL major, and the host's mirror.

# suite_for MAJOR: the Debian suite whose postgresql-MAJOR the chroot uses
suite_for() {
    case "$1" in
        17) echo trixie ;;
        18) echo sid ;;
        *)
            echo "no Debian suite known for PostgreSQL $1 (known: 17 trixie, 18 sid)" >&2
            return 1
            ;;
    esac
}

# host_mirror: the Debian mirror the host's apt uses (deb.debian.org if none)
host_mirror() {
    m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
            /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -1 |
        sed 's/ *$//')
    echo "${m:-http://deb.debian.org/debian}"
}
