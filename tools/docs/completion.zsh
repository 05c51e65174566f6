# The walk for netkit's zsh completion, after the generated _netkit_spec (tools/docs/completion.ts).

# Offers values of kind $1 (file, dir, interface, netns, choices:a,b, none).
_netkit_value() {
  case $1 in
    file) _files ;;
    dir) _files -/ ;;
    interface) compadd -- ${(f)"$(ls /sys/class/net 2>/dev/null)"} ;;
    netns) compadd -- ${(f)"$(ls /run/netns 2>/dev/null)"} ;;
    choices:*) compadd -- ${(s:,:)${1#choices:}} ;;
    *) return 1 ;;
  esac
}

_netkit() {
  local cmdpath="" word kind _netkit_argument i
  local -a _netkit_commands _netkit_options
  local -A _netkit_values
  _netkit_spec ""
  for ((i = 2; i < CURRENT; i++)); do
    word=${words[i]}
    if [[ $word == -* ]]; then
      # --opt=value is one word here; a value option takes the next word.
      [[ $word != *=* && -n ${_netkit_values[$word]} ]] && ((i++))
    elif (( ${_netkit_commands[(I)${(b)word}:*]} )); then
      cmdpath=${cmdpath:+$cmdpath }$word
      _netkit_spec "$cmdpath"
    fi
  done
  local cur=${words[CURRENT]} prev=${words[CURRENT-1]}
  if [[ $cur == --*=* && -n ${_netkit_values[${cur%%=*}]} ]]; then
    kind=${_netkit_values[${cur%%=*}]}
    compset -P '*='
    _netkit_value "$kind"
  elif [[ $prev == -* && -n ${_netkit_values[$prev]} ]]; then
    _netkit_value "${_netkit_values[$prev]}"
  elif [[ $cur == -* ]]; then
    _describe -t options 'netkit option' _netkit_options
  elif (( ${#_netkit_commands} )); then
    _describe -t commands 'netkit command' _netkit_commands
  else
    _netkit_value "$_netkit_argument"
  fi
}

_netkit "$@"
