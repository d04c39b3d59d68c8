# /etc/profile.d/cordon.sh: governs login shells of agent accounts, and nothing else until
# enabled. Inert while /etc/cordon/profile/ holds no USER.env for the account logging in:
# to govern the account claims-agent, write its agent profile (CORDON_SERVER, CORDON_KEY,
# CORDON_TRUST lines, see cordon(1) and /usr/share/doc/cordon/SHIM.md) to
# /etc/cordon/profile/claims-agent.env. A shell that is already governed is left alone.
if [ -r "/etc/cordon/profile/$(id -un 2>/dev/null).env" ]; then
    case ":${LD_PRELOAD:-}:" in
    *libcordon.so*) ;;
    *)
        CORDON_PROFILE="/etc/cordon/profile/$(id -un).env"
        LD_PRELOAD="/usr/lib/x86_64-linux-gnu/cordon/libcordon.so${LD_PRELOAD:+:$LD_PRELOAD}"
        export CORDON_PROFILE LD_PRELOAD
        ;;
    esac
fi
