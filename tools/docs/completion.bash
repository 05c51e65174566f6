# The walk for netkit's bash completion, after the generated _netkit_spec (tools/docs/completion.ts).

# Offers values of kind $1 (file, dir, interface, netns, choices:a,b, none) for the word $2.
_netkit_value() {
  local kind=$1 cur=$2 words
  case $kind in
    file) mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    dir) mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
    interface) mapfile -t COMPREPLY < <(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur") ;;
    netns) mapfile -t COMPREPLY < <(compgen -W "$(ls /run/netns 2>/dev/null)" -- "$cur") ;;
    choices:*)
      words=${kind#choices:}
      mapfile -t COMPREPLY < <(compgen -W "${words//,/ }" -- "$cur")
      ;;
    *) COMPREPLY=() ;;
  esac
}

# Prints the kind of value option $1 takes at the current path; fails when it takes none.
_netkit_kind() {
  local entry
  for entry in $_netkit_values; do
    if [[ ${entry%%=*} == "$1" ]]; then
      printf '%s' "${entry#*=}"
      return 0
    fi
  done
  return 1
}

_netkit() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmdpath="" word kind i
  local _netkit_commands _netkit_options _netkit_values _netkit_argument
  _netkit_spec ""
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ $word == -* ]]; then
      # bash splits --opt=value at "=" into three words: skip them all.
      if [[ ${COMP_WORDS[i+1]} == "=" ]]; then
        ((i += 2))
      elif _netkit_kind "$word" >/dev/null; then
        ((i++))
      fi
    elif [[ " $_netkit_commands " == *" $word "* ]]; then
      cmdpath=${cmdpath:+$cmdpath }$word
      _netkit_spec "$cmdpath"
    fi
  done
  # --opt=value: the word typed is after the "=".
  if [[ $cur == "=" ]]; then
    cur=""
  elif [[ $prev == "=" ]]; then
    prev=${COMP_WORDS[COMP_CWORD-2]}
  fi
  if [[ $prev == -* ]] && kind=$(_netkit_kind "$prev"); then
    _netkit_value "$kind" "$cur"
  elif [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$_netkit_options" -- "$cur")
  elif [[ -n $_netkit_commands ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$_netkit_commands" -- "$cur")
  else
    _netkit_value "$_netkit_argument" "$cur"
  fi
}
complete -o filenames -F _netkit netkit
