/**
 * The shell side of completion, printed by `netscope completion bash|zsh|fish`: each script hands the command
 * line up to the cursor to `netscope __complete SHELL WORDBREAKS LINE` and offers what it prints (one candidate
 * a line). All knowledge stays in netscope, so the scripts never go stale.
 */

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

const BASH = `# netscope completion for bash. Load it with:
#   source <(netscope completion bash)
# or install it:  netscope completion bash > /etc/bash_completion.d/netscope
_netscope_complete() {
  local line cmd=\${COMP_WORDS[0]:-netscope}
  if [[ -n \${COMP_LINE-} ]]; then
    line=\${COMP_LINE:0:COMP_POINT}
  else
    line="\${COMP_WORDS[*]:0:COMP_CWORD+1}"
  fi
  local IFS=$'\\n'
  COMPREPLY=($(command "$cmd" __complete bash "$COMP_WORDBREAKS" "$line" 2>/dev/null))
  # A directory or "--option=" goes on being typed: no space after it.
  if [[ \${#COMPREPLY[@]} -eq 1 && ( \${COMPREPLY[0]} == */ || \${COMPREPLY[0]} == *= ) ]]; then
    compopt -o nospace 2>/dev/null
  fi
}
complete -F _netscope_complete netscope
`;

const ZSH = `#compdef netscope
# netscope completion for zsh. Load it with:
#   source <(netscope completion zsh)
# or install it as _netscope in a directory of $fpath:  netscope completion zsh > "\${fpath[1]}/_netscope"
_netscope() {
  local line="\${(j: :)words[1,CURRENT]}"
  local -a cands open closed
  cands=("\${(@f)$(command \${words[1]} __complete zsh '' "$line" 2>/dev/null)}")
  cands=(\${cands:#})
  open=(\${(M)cands:#*[/=]})
  closed=(\${cands:#*[/=]})
  (( \${#closed} )) && compadd -Q -- "\${closed[@]}"
  (( \${#open} )) && compadd -Q -S '' -- "\${open[@]}"
  return 0
}
if (( \${+functions[compdef]} )); then
  compdef _netscope netscope
fi
`;

const FISH = `# netscope completion for fish. Load it with:
#   netscope completion fish | source
# or install it:  netscope completion fish > ~/.config/fish/completions/netscope.fish
function __netscope_complete
    set -l cmd (commandline -opc)[1]
    command $cmd __complete fish '' (commandline -cp) 2>/dev/null
end
complete -c netscope -f -a '(__netscope_complete)'
`;

export function completionScript(shell: Shell): string {
  return shell === 'bash' ? BASH : shell === 'zsh' ? ZSH : FISH;
}
