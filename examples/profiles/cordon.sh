# /etc/profile.d/cordon.sh: govern every login shell of the agent's service account.
# Copy to /etc/profile.d/ and adjust the account name and the profile path.
if [ "$(id -un)" = "claims-agent" ]; then
    export CORDON_PROFILE=/etc/cordon/claims-agent.env
    export LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libcordon.so${LD_PRELOAD:+:$LD_PRELOAD}
fi
