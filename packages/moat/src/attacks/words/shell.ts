/** Commands the shell detector expects after a separator (lower case, without path). */
export const SHELL_COMMANDS: ReadonlySet<string> = new Set(
  (
    'id whoami uname hostname ifconfig ipconfig ip netstat ss ps env printenv set export cat tac more less head tail nl ' +
    'od xxd strings base64 ls dir pwd cd echo printf sleep ping nslookup dig host traceroute tracert curl wget fetch nc ' +
    'ncat netcat telnet ssh scp ftp tftp socat bash sh zsh ksh csh tcsh dash ash busybox cmd powershell pwsh ' +
    'python python2 python3 perl ruby php node lua awk gawk sed find grep egrep xargs sort uniq wc chmod chown chgrp rm ' +
    'mv cp mkdir rmdir touch kill killall pkill shutdown reboot halt useradd usermod passwd sudo su crontab at nohup ' +
    'timeout time exec eval source systeminfo tasklist taskkill net whoami.exe type certutil bitsadmin reg wmic ' +
    'mshta rundll32 regsvr32 cscript wscript sc schtasks start call nmap tcpdump openssl gcc cc make java jjs ' +
    'uptime w who last date cut rev tr dd mknod mkfifo tee sh.exe cmd.exe powershell.exe bash.exe dnslookup ' +
    'finger getent lsof uptime free df du mount uname32 arp route iptables mawk nawk'
  ).split(' '),
);

/**
 * Commands that are rarely an English word after `;` or `|`: seen there, with anything after them,
 * they are an injection. The rest (cat, sleep, echo…) need an argument that looks like one.
 */
export const SHELL_STRONG_COMMANDS: ReadonlySet<string> = new Set(
  'whoami uname ifconfig ipconfig netstat printenv nslookup curl wget ncat netcat telnet bash zsh ksh busybox powershell pwsh python python2 python3 perl systeminfo tasklist certutil bitsadmin wmic mshta rundll32 regsvr32 cscript wscript nmap tcpdump passwd crontab chmod xxd base64 socat getent'.split(' '),
);

/**
 * Words that run the word after them as the command (`env cat /etc/passwd`, `if id;then`), mapped to how
 * that command is read: 'strong' ones are shell alone (any known command after them counts), 'keep' ones
 * keep the separator's reading, 'clause' ones (reserved words, common in prose) need the shell's own
 * keyword after the command (`; then cat food` is prose, `;if id;then` is not). The string after the
 * colon lists the short options whose value is the next word (`sudo -u root id`).
 */
export const SHELL_WRAPPERS: ReadonlyMap<string, { reading: 'strong' | 'keep' | 'clause'; valued: string }> = new Map(
  // sudo keeps the separator's reading: "; sudo make me a sandwich" is a joke, not a command.
  (
    'command:strong: env:strong:uC eval:strong: exec:strong:a nohup:strong: sudo:keep:ugCDhprtU doas:keep:uC ' +
    'xargs:strong:IEdLnPsa setsid:strong: builtin:strong: stdbuf:strong:ioe time:keep: nice:keep:n timeout:keep:sk ' +
    'if:clause: then:clause: do:clause: else:clause: elif:clause: while:clause: until:clause:'
  )
    .split(' ')
    .map((entry) => {
      const [name, reading, valued] = entry.split(':') as [string, 'strong' | 'keep' | 'clause', string];
      return [name, { reading, valued }];
    }),
);

/** Interpreters also installed under a versioned name (`python3.11`, `perl5.36`, `php8.2`, `lua5.4`). */
export const SHELL_VERSIONED: ReadonlySet<string> = new Set('python perl ruby php lua node pypy tclsh'.split(' '));

/** Commands after which a bare number is prose, not an argument ("; date 5", "; time 12", "; timeout 30"). */
export const SHELL_NUMBER_IS_PROSE: ReadonlySet<string> = new Set('date time timeout'.split(' '));

/** Named references of HTML 5 that are also command names (`&reg;` is ®), beyond the decoder's own table. */
export const SHELL_ENTITY_COMMANDS: ReadonlySet<string> = new Set('reg sc dd'.split(' '));

/**
 * Commands that run another through an option (`tar --checkpoint-action=exec=…`, `git -c core.pager=…`,
 * `zip -TT`, `vim -c`, `rsync -e`) and are common words otherwise: they count only with an option after them.
 */
export const SHELL_OPTION_COMMANDS: ReadonlySet<string> = new Set('tar gtar bsdtar zip git vim rsync'.split(' '));

/**
 * Commands that tell an attacker something (or stop the machine) run with no argument and no input (`x & id`, `x | whoami`):
 * alone after a spaced separator or a capitalised word they still count, where "dog & cat", "Books | more"
 * and "Time & Date" are phrases.
 */
export const SHELL_BARE_COMMANDS: ReadonlySet<string> = new Set(
  'id whoami uname hostname ifconfig ipconfig netstat ss ps env printenv set export ls dir pwd w uptime df du lsof arp systeminfo tasklist reboot shutdown halt'.split(' '),
);

/** Shells and interpreters: alone after a pipe they run what is piped into them (`… | sh`). */
export const SHELL_INPUT_COMMANDS: ReadonlySet<string> = new Set(
  'sh bash zsh ksh csh tcsh dash ash busybox cmd powershell pwsh python python2 python3 perl ruby php node lua jjs'.split(' '),
);

/** Commands that act on a number even when words follow it (`kill 1 now` signals 1 before failing on "now"). */
export const SHELL_NUMBER_ACTS: ReadonlySet<string> = new Set('kill shutdown'.split(' '));

/**
 * Commands whose own first argument words say they run (`ps aux`, `net user`): such a word, then the command's
 * end or arguments that are no sentence, counts where a plain word would read as prose ("cats; cat lovers").
 * "; net user growth was flat" is still a sentence.
 */
export const SHELL_SUBCOMMANDS: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ['ps', new Set('aux auxf auxw auxww auxwww axu axjf axo'.split(' '))],
  ['net', new Set('user users localgroup group share view use session accounts config start stop'.split(' '))],
]);
