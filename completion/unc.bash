# bash completion for unc(1): its commands (stages, check), its options,
# and what an option takes: stage names for --stage, network modes for
# --net, users for -u, variables for -e, files and directories where an
# option wants one. After COMMAND, COMMAND's own completion when
# bash-completion is loaded (_command_offset), else file names. After
# exec, kill, stop, rm and logs: the names of the containers (`unc ps -a`).
#
# Install: copy to /usr/share/bash-completion/completions/unc, or
# `source completion/unc.bash` in ~/.bashrc.
#
# The option lists are unc's usage text (`unc --help`), by hand:
# tests/unit/test_docs.py fails when an option is missing here, or is here
# and not there, and when the stage names or network modes differ.

_unc_opts_with_arg="--stage -u --user -e --env --env-file -w --workdir
    --json-status-fd --name --map-users --map-groups --map-user --map-group --hostname
    --rootfs --image --persist -v --volume --tmpfs --net -p --publish
    --cap-add --cap-drop --seccomp --ulimit --pids-limit --memory --cpus --preserve-fds"
_unc_opts_flags="-d --detach --rm --clearenv --init -q --quiet --trace --debug -h --help --version
    --map-root-user --map-auto --read-only --bind-proc --privileged"
_unc_check_opts="--json"
_unc_stages="user_pid uts mount net harden"
_unc_net_modes="auto none slirp4netns pasta bridge host"

# _unc_value OPTION CUR: complete the value of OPTION.
_unc_value() {
    case $1 in
        --stage) COMPREPLY=($(compgen -W "$_unc_stages" -- "$2")); return ;;
        --net) COMPREPLY=($(compgen -W "$_unc_net_modes" -- "$2")); return ;;
    esac
    local IFS=$'\n'           # file names may hold spaces
    case $1 in
        -u|--user) COMPREPLY=($(compgen -u -- "$2")) ;;
        -e|--env) COMPREPLY=($(compgen -e -- "$2")) ;;
        --seccomp)
            COMPREPLY=($(compgen -W unconfined -- "$2") $(compgen -f -- "$2")) ;;
        --env-file|-v|--volume)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$2")) ;;
        --rootfs|-w|--workdir|--tmpfs)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -d -- "$2")) ;;
        *) COMPREPLY=() ;;         # numbers, names, specs: nothing to offer
    esac
}

_unc_takes_arg() {
    [[ " ${_unc_opts_with_arg//$'\n'/ } " == *" $1 "* ]]
}

_unc() {
    local cur=${COMP_WORDS[COMP_CWORD]} cword=$COMP_CWORD i word
    COMPREPLY=()
    # bash splits --opt=value at "=": (--opt = value), or (--opt =) with
    # nothing typed after it.
    if [ "$cur" = "=" ] && [ "$cword" -ge 2 ]; then
        _unc_value "${COMP_WORDS[cword - 1]}" ""
        return
    fi
    if [ "$cword" -ge 3 ] && [ "${COMP_WORDS[cword - 1]}" = "=" ]; then
        _unc_value "${COMP_WORDS[cword - 2]}" "$cur"
        return
    fi
    # Find COMMAND (or unc's own command) before the word being completed:
    # the first word that is neither an option nor an option's value.
    local after_dashes=""
    i=1
    while [ "$i" -lt "$cword" ]; do
        word=${COMP_WORDS[i]}
        if [ "$word" = "--" ]; then
            i=$((i + 1))
            after_dashes=1
            break
        elif [ "${COMP_WORDS[i + 1]:-}" = "=" ]; then
            i=$((i + 3))                                # --opt = value
        elif [[ "$word" == -* ]]; then
            if _unc_takes_arg "$word"; then
                if [ $((i + 1)) -eq "$cword" ]; then      # --opt value
                    _unc_value "$word" "$cur"
                    return
                fi
                i=$((i + 2))
            else
                i=$((i + 1))
            fi
        else
            break
        fi
    done
    if [ "$i" -lt "$cword" ]; then
        case ${COMP_WORDS[i]} in
            check)
                [ -z "$after_dashes" ] && COMPREPLY=($(compgen -W "$_unc_check_opts" -- "$cur"))
                [ -z "$after_dashes" ] && return ;;
            stages|ps)
                [ -z "$after_dashes" ] && return ;;
            exec|kill|stop|rm|logs)
                if [ -z "$after_dashes" ] && [[ "$cur" != -* ]]; then
                    local IFS=$'\n'
                    COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" ps -a 2>/dev/null |
                        awk 'NR > 1 && $2 != "-" { print $2 }')" -- "$cur"))
                    return
                fi ;;
        esac
        # After COMMAND: its own completion.
        if declare -F _command_offset >/dev/null; then
            _command_offset "$i"
        else
            local IFS=$'\n'
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
        return
    fi
    if [[ "$cur" == -* ]] && [ -z "$after_dashes" ]; then
        COMPREPLY=($(compgen -W "$_unc_opts_with_arg $_unc_opts_flags" -- "$cur"))
        return
    fi
    # COMMAND: unc's own commands (not after --), then programs.
    local IFS=$'\n' own=""
    [ -z "$after_dashes" ] && own=$'stages\ncheck\nps\nexec\nkill\nstop\nrm\nlogs'
    COMPREPLY=($(compgen -W "$own" -- "$cur") $(compgen -c -- "$cur"))
}

complete -F _unc unc
