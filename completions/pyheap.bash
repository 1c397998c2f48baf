# bash completion for pyheap. Installed as
# $datadir/bash-completion/completions/pyheap; every option of every
# command's --help is listed here (tests/test_install.py checks it).

_pyheap_pids() {
	# Processes whose command line names a python: the likely targets.
	local pid cmd
	for pid in /proc/[0-9]*; do
		pid="${pid#/proc/}"
		cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || continue
		case "$cmd" in
		*python*) printf '%s\n' "$pid" ;;
		esac
	done
}

_pyheap() {
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion || return
	else
		cur="${COMP_WORDS[COMP_CWORD]}"
		prev="${COMP_WORDS[COMP_CWORD - 1]}"
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local commands="snap diff chain top suspects layout export report help"
	if [ "$cword" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
		return
	fi

	local command="${words[1]}" options=""
	case "$command" in
	snap) options="--output --timeout --attempts --no-graph --debuginfo --layout --policy --core --exe --sysroot --timings --redact --quiet --help" ;;
	diff) options="--all --limit --sort --containers --json --help" ;;
	chain) options="--type --address --all --max --dot --json --pid --help" ;;
	top) options="--limit --type --address --json --timings --help" ;;
	suspects) options="--limit --json --help" ;;
	layout) options="--debuginfo --output --help" ;;
	export) options="--format --output --quiet --help" ;;
	report) options="--output --limit --quiet --help" ;;
	*) return ;;
	esac

	case "$prev" in
	--output | -o | --debuginfo | -d | --layout | --dot)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--pid | -p)
		COMPREPLY=($(compgen -W "$(_pyheap_pids)" -- "$cur"))
		return
		;;
	--sort | -s)
		COMPREPLY=($(compgen -W "count size" -- "$cur"))
		return
		;;
	--format | -f)
		COMPREPLY=($(compgen -W "heapsnapshot" -- "$cur"))
		return
		;;
	--timeout | -t | --attempts | --limit | -n | --max | --containers | --type | --address | -a)
		# a number or a name: nothing to offer
		[ "$command" = diff ] && [ "$prev" = -a ] || return
		;;
	esac

	if [[ "$cur" == -* ]]; then
		COMPREPLY=($(compgen -W "$options" -- "$cur"))
		return
	fi
	case "$command" in
	snap) COMPREPLY=($(compgen -W "$(_pyheap_pids)" -- "$cur")) ;;
	layout)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		;;
	*)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -X '!*.json' -- "$cur") $(compgen -d -- "$cur"))
		;;
	esac
}

complete -F _pyheap pyheap
