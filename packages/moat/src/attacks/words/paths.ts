/**
 * Files and pseudo-files an inclusion attack reads or runs (lower case, forward slashes). `/proc/<pid>/`
 * for any pid is recognised by the detector itself.
 */
export const SYSTEM_PATHS: readonly string[] = [
  '/etc/passwd', '/etc/shadow', '/etc/passwd-', '/etc/shadow-', '/etc/gshadow', '/etc/gshadow-', '/etc/group', '/etc/hosts', '/etc/issue', '/etc/hostname', '/etc/crontab',
  '/etc/sudoers', '/etc/master.passwd', '/etc/mysql/', '/etc/apache2/', '/etc/httpd/', '/etc/nginx/', '/etc/ssh/',
  '/etc/os-release', '/etc/profile', '/etc/fstab', '/etc/resolv.conf', '/etc/security/', '/etc/environment',
  '/proc/self/', '/proc/thread-self/', '/proc/version', '/proc/cmdline', '/proc/mounts', '/proc/net/', '/proc/sched_debug',
  '/var/log/apache/', '/var/log/apache2/', '/var/log/nginx/', '/var/log/httpd/', '/var/log/auth.log', '/var/log/secure', '/var/run/secrets/', '/run/secrets/', '/root/.', '/usr/local/etc/', '/dev/tcp/', '/dev/udp/',
  '/.ssh/', '/.aws/', '/.bash_history', '/.env', '/.git/', '/.htaccess', '/.htpasswd', '/.docker/', '/.kube/',
  '/boot.ini', '/win.ini', '/system.ini', '/winnt/', '/inetpub/', '/system32/', '/web-inf/', '/meta-inf/', '/config/sam', '/repair/sam',
];

/**
 * Folders and file names that are sensitive in a file system but also name a site's pages
 * (`/windows/download`, `/account/credentials`, `/docs/php.ini`, `/sam`): recognised only where the value
 * reads as a file-system path — a drive, a backslash, a climb, or a first folder of a file system's root.
 */
export const FILE_SYSTEM_PATHS: readonly string[] = [
  '/windows/',
  '/wp-config.php', '/config.php', '/configuration.php', '/settings.py', '/id_rsa', '/authorized_keys', '/known_hosts',
  '/application.properties', '/application.yml', '/appsettings.json', '/web.config', '/database.yml', '/credentials',
  '/sam', '/repair/', '/xampp/', '/php.ini', '/my.cnf', '/httpd.conf', '/apache2.conf', '/nginx.conf', '/tomcat-users.xml',
];

export const SENSITIVE_PATHS: readonly string[] = [...SYSTEM_PATHS, ...FILE_SYSTEM_PATHS];

/** Top folders of a Unix root: a `/`-path starting in one is a file-system path, not a site's route. */
export const ROOT_FOLDERS: readonly string[] = ['etc', 'proc', 'var', 'run', 'root', 'usr', 'srv', 'opt', 'dev', 'tmp', 'boot', 'mnt', 'sys', 'lib', 'bin'];

/** Wrappers that turn a file parameter into code execution or arbitrary reads (PHP and others). */
export const INCLUSION_SCHEMES: readonly string[] = [
  'file:', 'php://', 'phar://', 'zip://', 'expect://', 'data://', 'glob://', 'compress.zlib://', 'compress.bzip2://',
  'zlib:', 'jar:', 'netdoc:', 'ogg://', 'rar://', 'ssh2.', 'input://',
];
