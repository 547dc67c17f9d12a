# SPDX-License-Identifier: BSD-3-Clause
# bash completion for vucert and vucert-server. Installed as
# share/bash-completion/completions/vucert and .../vucert-server (the
# package loads a command's completion by its name); it needs nothing from
# that package, so `source completion/vucert.bash` works too.
#
# Case ids (--case, --exclude) come from `vucert certify --list`, and the
# names of quirks, bugs, chaos modes and planted defects from
# `vucert-server --help`, of the binary being completed: they are always
# those of the version in use. tests/e2e/test_install.py checks that every
# option the usage texts name is offered here.

# cur: the word being completed; prev: the option it is the value of.
# bash splits --opt=value at '=' into --opt, = and value; eq is then 1.
_vucert_words()
{
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    eq=0
    if [[ $cur == = ]]; then
        cur='' eq=1
    elif [[ $prev == = ]] && ((COMP_CWORD >= 2)); then
        prev=${COMP_WORDS[COMP_CWORD - 2]} eq=1
    fi
}

# The program on the command line when it can be run, else the one in PATH.
_vucert_prog()
{
    local p=${COMP_WORDS[0]}

    p=${p/#\~/$HOME}
    if [[ -x $p && ! -d $p ]]; then
        printf '%s\n' "$p"
    else
        printf '%s\n' "$1"
    fi
}

_vucert_files()
{
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

_vucert_dirs()
{
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -d -- "$cur")
}

_vucert_words_of()
{
    mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur")
}

_vucert()
{
    local cur prev eq sub opts
    COMPREPLY=()
    _vucert_words

    if ((COMP_CWORD == 1)); then
        _vucert_words_of "certify fuzz replay --version --help"
        return
    fi
    sub=${COMP_WORDS[1]}

    case $prev in
    --socket | --dest-socket | --profile)
        _vucert_files
        return
        ;;
    --report-dir | --record | --save-sequences | --out | --seeds)
        _vucert_dirs
        return
        ;;
    --server-cmd | --dest-server-cmd)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -c -- "$cur" | sort -u)
        return
        ;;
    --case | --exclude)
        _vucert_words_of "$("$(_vucert_prog vucert)" certify --list \
            2>/dev/null | awk '{ print $1 }')"
        return
        ;;
    --server-pid)
        _vucert_words_of "$(pgrep -d ' ' . 2>/dev/null)"
        return
        ;;
    --color)
        _vucert_words_of "auto always never"
        return
        ;;
    --coverage)
        # an optional value: only as --coverage=measure
        if [[ $sub == fuzz ]] && ((eq)); then
            _vucert_words_of "measure"
            return
        fi
        ;;
    --timeout | --stream-limit | --shuffle | --time | --runs | --seed | \
        --ignore | --jobs)
        return # a number, or a class name: nothing to offer
        ;;
    esac

    case $sub in
    certify)
        opts="--socket --server-cmd --profile --report-dir --case --exclude
              --strict --timeout --list --coverage --verbose --dest-socket
              --dest-server-cmd --stream-limit --server-pid --record
              --save-sequences --shuffle --quiet --color --jobs --help"
        ;;
    fuzz)
        opts="--socket --server-cmd --time --runs --seed --out --timeout
              --reuse-server --seeds --coverage --coverage=measure --ignore
              --help"
        ;;
    replay)
        opts="--socket --server-cmd --timeout --reuse-server --help"
        # the reproducer first
        if ((COMP_CWORD == 2)) && [[ $cur != -* ]]; then
            _vucert_files
            return
        fi
        ;;
    *)
        return
        ;;
    esac
    if [[ $cur == -* || -z $cur ]]; then
        _vucert_words_of "$opts"
    fi
}

# One section of `vucert-server --help`: the first word of each line.
_vucert_server_list()
{
    "$(_vucert_prog vucert-server)" --help 2>/dev/null |
        awk -v s="$1" '$0 == s { on = 1; next }
                       /^$/ { on = 0 }
                       on && $1 !~ /=/ { print $1 }'
}

_vucert_server()
{
    local cur prev eq
    COMPREPLY=()
    _vucert_words

    case $prev in
    --socket | --socket-path)
        _vucert_files
        return
        ;;
    --migration-flags)
        _vucert_words_of "stop-copy stop-copy,p2p stop-copy,pre-copy
                          stop-copy,p2p,pre-copy"
        return
        ;;
    --quirk)
        _vucert_words_of "$(_vucert_server_list quirks:)"
        return
        ;;
    --bug)
        _vucert_words_of "$(_vucert_server_list bugs:) arc="
        return
        ;;
    --chaos)
        _vucert_words_of "$(_vucert_server_list 'chaos modes:')"
        return
        ;;
    --plant)
        _vucert_words_of "$(_vucert_server_list 'planted defects:')"
        return
        ;;
    --fd | --max-data-xfer-size | --state-size | --logging-page-size | \
        --idle-timeout | --chaos-every | --chaos-cmd)
        return
        ;;
    esac
    _vucert_words_of "--socket --socket-path --fd --migration-flags --quirk
                      --bug --plant --max-data-xfer-size --state-size
                      --resume-fail-to-error --require-arm --idle-timeout
                      --logging-page-size --chaos --chaos-every --chaos-cmd
                      --verbose --help --version"
}

complete -F _vucert vucert
complete -F _vucert_server vucert-server
