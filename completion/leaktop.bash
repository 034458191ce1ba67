# bash completion for leaktop(8): its options; after -p the running processes,
# shown as "PID (command)"; file names after --prom-file, --folded, --html and --pprof;
# after -- the command to start and its arguments.  Installed as
# share/bash-completion/completions/leaktop (make install).

# The options of `leaktop --help` (tests/test_completion.py keeps them equal).
_leaktop_options='-p --pid --children --no-children --cgroup --unit -i --interval -c --count
	-n --top -b --batch --json --window --prom-file --prom-top --folded --html --pprof -q --quiet
	--max-allocs --max-stacks --duty-cycle -s --sample-bytes --pymalloc-redirect -h --help --version'

# COMPREPLY: the processes whose PID or command name starts with $1.  With
# several, each is "PID (command)" so the list says which is which; a single
# one is just its PID, which is what completes the word.  A list (1,2,3)
# completes its last item.
_leaktop_pids()
{
	local cur=${1##*,} before= dir pid comm cmdline
	[[ $1 == *,* ]] && before=${1%,*},
	COMPREPLY=()
	for dir in /proc/[0-9]*; do
		pid=${dir#/proc/}
		# Kernel threads have no command line, and no heap to watch.
		read -r -d '' cmdline 2>/dev/null < "$dir/cmdline"
		[[ -n $cmdline ]] || continue
		read -r comm 2>/dev/null < "$dir/comm" || continue
		[[ $pid == "$cur"* || $comm == "$cur"* ]] || continue
		COMPREPLY+=("$before$pid ($comm)")
	done
	if ((${#COMPREPLY[@]} == 1)); then
		COMPREPLY=("${COMPREPLY[0]%% *}")
	fi
}

_leaktop()
{
	local cword=$COMP_CWORD i
	local cur=${COMP_WORDS[cword]} prev=${COMP_WORDS[cword - 1]}

	# bash splits --option=value at the '=' into three words.
	if [[ $cur == = ]]; then
		cur=
	elif [[ $prev == = ]] && ((cword >= 2)); then
		prev=${COMP_WORDS[cword - 2]}
	fi

	# After --: the command, then its own arguments.
	for ((i = 1; i < cword; i++)); do
		[[ ${COMP_WORDS[i]} == -- ]] || continue
		if declare -F _command_offset >/dev/null; then
			_command_offset $((i + 1))	# bash-completion's, as sudo uses
		elif ((cword == i + 1)); then
			mapfile -t COMPREPLY < <(compgen -c -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		fi
		return 0
	done

	case $prev in
	-p | --pid)
		_leaktop_pids "$cur"
		return 0
		;;
	--prom-file | --folded | --html | --pprof)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0
		;;
	--cgroup)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "${cur:-/sys/fs/cgroup/}")
		return 0
		;;
	--unit)
		# The units that have a cgroup here (systemd's system services).
		mapfile -t COMPREPLY < <(compgen -W "$(cd /sys/fs/cgroup/system.slice 2>/dev/null && echo *.service)" -- "$cur")
		return 0
		;;
	-i | --interval | -c | --count | -n | --top | --window | --prom-top | \
		--max-allocs | --max-stacks | --duty-cycle | -s | --sample-bytes)
		COMPREPLY=()	# a number
		return 0
		;;
	esac

	# shellcheck disable=SC2086  # the list is split on purpose
	mapfile -t COMPREPLY < <(compgen -W "$_leaktop_options --" -- "$cur")
	return 0
}

complete -F _leaktop leaktop
