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
    'finger getent lsof uptime free df du mount uname32 arp route iptables'
  ).split(' '),
);

/**
 * Commands that are rarely an English word after `;` or `|`: seen there, with anything after them,
 * they are an injection. The rest (cat, sleep, echo…) need an argument that looks like one.
 */
export const SHELL_STRONG_COMMANDS: ReadonlySet<string> = new Set(
  'whoami uname ifconfig ipconfig netstat printenv nslookup curl wget ncat netcat telnet bash zsh ksh busybox powershell pwsh python python2 python3 perl systeminfo tasklist certutil bitsadmin wmic mshta rundll32 regsvr32 cscript wscript nmap tcpdump passwd crontab chmod xxd base64 socat getent'.split(' '),
);
