<?php
/*
 * The smallest FreePBX framework stand-in that lets core, voicemail and
 * findmefollow (fetched unchanged into $RFAPI_FREEPBX_SRC) run their write
 * paths against a throwaway database. Only what the oracle scenarios reach
 * is here: BMO objects created on first use, Database on PDO, Config over
 * freepbx_settings (installer defaults for keywords the table lacks), an
 * astman that keeps AstDB in memory, module.xml hooks, the kvstore in
 * memory, and LoadConfig/WriteConfig for voicemail.conf. Anything else a
 * module reaches fails loudly, so a new scenario shows what is missing.
 */

namespace {

define('FREEPBX_IS_AUTH', true);  // module files refuse to load outside FreePBX without it

if (!function_exists('_')) { function _($s) { return $s; } }

class modgettext {
	static function push_textdomain($d) {}
	static function pop_textdomain() {}
	static function textdomain($d) {}
}

interface BMO {}

function freepbx_log($level, $message) { Oracle::$log[] = ['freepbx_log', $level, $message]; }
function dbug(...$a) {}
// framework's null-tolerant wrappers (PHP 8 refuses null in trim/htmlspecialchars)
function freepbx_trim($s) { return trim($s ?? ''); }
function freepbx_htmlspecialchars($s) { return htmlspecialchars($s ?? ''); }
function freepbx_str_replace($w, $r, $s) { return $s ? str_replace($w, $r, $s) : $s; }
// The logged-in administrator's extension range: the oracle acts as an unrestricted admin.
function checkRange($extension) { return true; }
function die_freepbx($text) { throw new \Exception("die_freepbx: " . $text); }

/** framework's needreload(): the flag Apply Config clears. */
function needreload() {
	FreePBX::create()->Database->query("UPDATE admin SET value = 'true' WHERE variable = 'need_reload'");
}

function engine_getinfo() {
	$v = Oracle::$job['asterisk_version'];
	return ['engine' => 'asterisk', 'version' => $v, 'additional' => $v, 'raw' => "Asterisk $v"];
}

function modules_getversion($m) { return Oracle::$job['module_versions'][$m] ?? null; }

/** Legacy sql() of framework's functions: run through the PDO connection. */
function sql($sql, $type = "query", $fetchmode = 'DB_FETCHMODE_ORDERED') {
	return FreePBX::create()->Database->sql($sql, $type, $fetchmode);
}

/** What the run did besides SQL: AstDB in memory, kvstore, log. */
class Oracle {
	static $job;
	static $astdb = [];
	static $kvstore = [];
	static $log = [];
	static $missingSettings = [];
}

class OracleDatabase extends \PDO {
	public function sql($sql, $type = "query", $fetchmode = null) {
		$sth = $this->query($sql);
		switch ($type) {
		case "query": return true;
		case "getOne": $r = $sth->fetch(\PDO::FETCH_NUM); return $r ? $r[0] : null;
		case "getRow": return $sth->fetch($fetchmode === 'DB_FETCHMODE_ASSOC' || $fetchmode === \PDO::FETCH_ASSOC ? \PDO::FETCH_ASSOC : \PDO::FETCH_NUM);
		case "getAll": return $sth->fetchAll($fetchmode === 'DB_FETCHMODE_ASSOC' || $fetchmode === \PDO::FETCH_ASSOC ? \PDO::FETCH_ASSOC : \PDO::FETCH_NUM);
		case "getCol": return $sth->fetchAll(\PDO::FETCH_COLUMN, 0);
		}
		throw new \Exception("sql type $type");
	}
	public function getOne($sql) { return $this->sql($sql, "getOne"); }
	// BMO's Database::escapeSimple quotes (PDO::quote); the legacy $db's strips the quotes.
	public function escapeSimple($s) { return $this->quote((string)$s); }
}

const DB_FETCHMODE_ORDERED = 1;
const DB_FETCHMODE_ASSOC = 2;

/** The PEAR-DB-shaped global $db that functions.inc.php files use, over the same PDO. */
class OracleLegacyDb {
	private function run($sql, $params) {
		$pdo = FreePBX::create()->Database;
		$sth = $pdo->prepare($sql);
		$sth->execute(array_values((array)$params));
		return $sth;
	}
	private static function mode($m) { return $m === DB_FETCHMODE_ASSOC ? \PDO::FETCH_ASSOC : \PDO::FETCH_NUM; }
	public function query($sql, $params = []) { $this->run($sql, $params); return true; }
	public function getAll($sql, $params = [], $mode = DB_FETCHMODE_ORDERED) {
		if (!is_array($params)) { $mode = $params; $params = []; }
		return $this->run($sql, $params)->fetchAll(self::mode($mode));
	}
	public function getRow($sql, $params = [], $mode = DB_FETCHMODE_ORDERED) {
		if (!is_array($params)) { $mode = $params; $params = []; }
		$r = $this->run($sql, $params)->fetch(self::mode($mode));
		return $r === false ? null : $r;
	}
	public function getOne($sql, $params = []) { $r = $this->run($sql, $params)->fetch(\PDO::FETCH_NUM); return $r ? $r[0] : null; }
	public function getCol($sql, $col = 0, $params = []) { return $this->run($sql, $params)->fetchAll(\PDO::FETCH_COLUMN, $col); }
	public function escapeSimple($s) { return substr(FreePBX::create()->Database->quote((string)$s), 1, -1); }
	public function quoteSmart($s) { return FreePBX::create()->Database->quote($s); }
}

class DB {
	static function IsError($r) { return false; }
}

/** freepbx_settings, falling back to the installer's defaults for keywords a box lacks. */
class OracleConfig {
	private $values = null;
	public function get($k) {
		if ($this->values === null) {
			$this->values = [];
			foreach (FreePBX::create()->Database->query("SELECT keyword, value, type FROM freepbx_settings") as $r) {
				$v = $r['value'];
				if ($r['type'] === 'bool') { $v = ($v === '1' || strtolower((string)$v) === 'true' || strtolower((string)$v) === 'yes'); }
				$this->values[$r['keyword']] = $v;
			}
			foreach (Oracle::$job['paths'] as $k2 => $v2) { $this->values[$k2] = $v2; }
		}
		if (array_key_exists($k, $this->values)) { return $this->values[$k]; }
		if (array_key_exists($k, Oracle::$job['installer_defaults'])) {
			Oracle::$missingSettings[$k] = true;
			return Oracle::$job['installer_defaults'][$k];
		}
		throw new \Exception("Config: no value for setting $k (add its installer default)");
	}
	public function get_conf_setting($k) { return $this->get($k); }
	public function conf_setting_exists($k) {
		$this->get('AMPMGRUSER');
		return array_key_exists($k, $this->values) || array_key_exists($k, Oracle::$job['installer_defaults']);
	}
}

/** Asterisk's AstDB as FreePBX's astman sees it, kept in memory. */
class OracleAstman {
	public function connected() { return true; }
	public function database_put($family, $key, $value) {
		Oracle::$astdb["/$family/$key"] = (string)$value; return true;
	}
	public function database_get($family, $key) {
		return Oracle::$astdb["/$family/$key"] ?? false;
	}
	public function database_del($family, $key) {
		$k = "/$family/$key";
		if (!array_key_exists($k, Oracle::$astdb)) { return false; }
		unset(Oracle::$astdb[$k]); return true;
	}
	public function database_deltree($family, $key = null) {
		$root = '/' . ($key === null || $key === '' ? $family : "$family/$key");
		foreach (array_keys(Oracle::$astdb) as $k) {
			if ($k === $root || strpos($k, $root . '/') === 0) { unset(Oracle::$astdb[$k]); }
		}
		return true;
	}
	public function database_show($family = '') {
		$root = $family === '' ? '/' : '/' . trim($family, '/');
		$out = [];
		foreach (Oracle::$astdb as $k => $v) {
			if ($root === '/' || $k === $root || strpos($k, $root . '/') === 0) { $out[$k] = $v; }
		}
		return $out;
	}
	/** Set(FUNC(...)=value): the dialplan functions that Asterisk keeps in AstDB do so here. */
	public function set_global($var, $value) {
		$value = trim((string)$value, '"');
		if (preg_match('/^PRESENCE_STATE\(CustomPresence:(.+)\)$/', $var, $m)) {
			Oracle::$astdb["/CustomPresence/{$m[1]}"] = $value;
		} elseif (preg_match('/^DEVICE_STATE\(Custom:(.+)\)$/', $var, $m)) {
			Oracle::$astdb["/CustomDevstate/{$m[1]}"] = $value;
		} else {
			Oracle::$log[] = ['set_global', $var, $value];
		}
		return true;
	}
	public function Command($cmd) { Oracle::$log[] = ['ami_command', $cmd]; return ['data' => '']; }
	public function send_request($action, $params = []) { Oracle::$log[] = ['ami', $action]; return ['Response' => 'Success']; }
	public function mailboxcount($m) { return ['NewMessages' => 0, 'OldMessages' => 0]; }
}

/** The codec names framework's Codecs knows (all it is asked for is the names). */
class OracleCodecs {
	private static function names($list) { return array_fill_keys(explode(' ', $list), false); }
	public function getAudio() {
		return self::names('g722 ulaw alaw gsm g729 g723 g726 adpcm slin lpc10 speex speex16 ilbc g726aal2 slin16 '
			. 'siren7 siren14 testlaw g719 speex32 slin12 slin24 slin32 slin44 slin48 slin96 slin192 opus');
	}
	public function getVideo() { return self::names('h261 h263 h263p h264 mpeg4 vp8'); }
	public function getText() { return self::names('red t140'); }
	public function getImage() { return self::names('jpeg png'); }
}

/** Hooks declared in the modules' module.xml, called in module-name order. */
class OracleHooks {
	private $map = null;
	private static function attrs($text) {
		preg_match_all('/(\w+)="([^"]*)"/', $text, $m, PREG_SET_ORDER);
		$out = [];
		foreach ($m as $a) { $out[$a[1]] = $a[2]; }
		return $out;
	}
	/** module.xml's <hooks>: <target class= namespace=><method callingMethod= class=>fn</method>. */
	private function load() {
		$this->map = [];
		foreach (Oracle::$job['modules'] as $mod) {
			$xml = file_get_contents(Oracle::$job['src'] . "/$mod/module.xml");
			if (!preg_match('#<hooks>(.*?)</hooks>#s', $xml, $h)) { continue; }
			preg_match_all('#<(\w+)([^>]*)>(.*?)</\1>#s', $h[1], $targets, PREG_SET_ORDER);
			foreach ($targets as $t) {
				$ta = self::attrs($t[2]);
				$tclass = strtolower(($ta['namespace'] ?? '') . '\\' . ($ta['class'] ?? ''));
				preg_match_all('#<method([^>]*)>([^<]*)</method>#', $t[3], $methods, PREG_SET_ORDER);
				foreach ($methods as $m) {
					$ma = self::attrs($m[1]);
					$this->map[$tclass][$ma['callingMethod']][] = [$ma['class'], trim($m[2])];
				}
			}
		}
	}
	public function processHooks(...$args) {
		$bt = debug_backtrace(DEBUG_BACKTRACE_IGNORE_ARGS, 2);
		return $this->processHooksByClassMethod($bt[1]['class'], $bt[1]['function'], $args);
	}
	public function processHooksByClassMethod($class, $method, $args = []) {
		if ($this->map === null) { $this->load(); }
		$out = [];
		foreach ($this->map[strtolower(ltrim($class, '\\'))][$method] ?? [] as [$modclass, $fn]) {
			Oracle::$log[] = ['hook', "$class::$method", "$modclass::$fn"];
			$out[$modclass] = call_user_func_array([FreePBX::create()->$modclass, $fn], $args);
		}
		return $out;
	}
}

class OracleModules {
	public function deprecatedFunction() {}
	public function checkStatus($m, $status = null) { return in_array(strtolower($m), Oracle::$job['modules'], true); }
	public function moduleHasMethod($m, $method) {
		return $this->checkStatus($m) && method_exists(FreePBX::create()->$m, $method);
	}
	public function loadFunctionsInc($m) {
		$f = Oracle::$job['src'] . "/$m/functions.inc.php";
		if (file_exists($f)) { require_once $f; }
	}
	public function getInfo($m = false, $status = false) {
		$out = [];
		foreach (Oracle::$job['modules'] as $mod) {
			$out[$mod] = ['rawname' => $mod, 'status' => 2, 'version' => Oracle::$job['module_versions'][$mod] ?? ''];
		}
		return $m ? [$m => $out[$m] ?? null] : $out;
	}
}

/** voicemail.conf as LoadConfig parses it: [section][key] = value (repeated keys become a list). */
class OracleLoadConfig {
	public function getConfig($file, $hint = '', $context = '') {
		$path = Oracle::$job['paths']['ASTETCDIR'] . "/$file";
		$out = [];
		$section = null;
		foreach (preg_split('/\r?\n/', @file_get_contents($path)) as $line) {
			$line = trim(preg_replace('/(?<!\\\\);.*$/', '', $line));
			if ($line === '') { continue; }
			if (preg_match('/^\[(.+)\]/', $line, $m)) { $section = $m[1]; $out[$section] = $out[$section] ?? []; continue; }
			if ($section === null || !preg_match('/^([^=]+?)\s*=>?\s*(.*)$/', $line, $m)) { continue; }
			$out[$section][$m[1]] = $m[2];
		}
		return $context !== '' ? ($out[$context] ?? []) : $out;
	}
}

/** WriteConfig: a list is written one line per entry, a map as key=value. */
class OracleWriteConfig {
	public function writeConfig($file, $contents, $generateHeader = true) {
		$text = '';
		foreach ($contents as $section => $entries) {
			$text .= "[$section]\n";
			foreach ($entries as $k => $v) {
				if (is_array($v)) { foreach ($v as $vv) { $text .= "$k=$vv\n"; } }
				elseif (is_int($k)) { $text .= "$v\n"; }
				else { $text .= "$k=$v\n"; }
			}
			$text .= "\n";
		}
		file_put_contents(Oracle::$job['paths']['ASTETCDIR'] . "/$file", $text);
	}
}

/** User Management with no users linked to the scenarios' extensions (the office links none). */
class OracleUserman {
	public function getUserByDefaultExtension($ext) { return false; }
	public function getAllUsers() { return []; }
}

/** SIP Settings: PJSIP owns the SIP port (ASTSIPDRIVER both, the installer's layout). */
class OracleSipsettings {
	public function getSipPortOwner() { return 'pjsip'; }
}

/** The BMO root: FreePBX::create(), $freepbx->Module and FreePBX::Module(). */
class FreePBX {
	private static $me = null;
	private $objects = [];
	public static function create() {
		if (self::$me === null) { self::$me = new FreePBX(); }
		return self::$me;
	}
	public static function __callStatic($name, $args) { return self::create()->$name; }
	public function __call($name, $args) { return $this->$name; }
	public function __get($name) {
		$key = strtolower($name);
		if (isset($this->objects[$key])) { return $this->objects[$key]; }
		switch ($key) {
		case 'database':
			$j = Oracle::$job['db'];
			$o = new OracleDatabase("mysql:host={$j['host']};port={$j['port']};dbname={$j['name']};charset=utf8mb4",
				$j['user'], $j['password'], [\PDO::ATTR_ERRMODE => \PDO::ERRMODE_EXCEPTION,
				\PDO::ATTR_DEFAULT_FETCH_MODE => \PDO::FETCH_ASSOC]);
			break;
		case 'config': $o = new OracleConfig(); break;
		case 'astman': $o = new OracleAstman(); break;
		case 'hooks': $o = new OracleHooks(); break;
		case 'modules': $o = new OracleModules(); break;
		case 'loadconfig': $o = new OracleLoadConfig(); break;
		case 'writeconfig': $o = new OracleWriteConfig(); break;
		case 'codecs': $o = new OracleCodecs(); break;
		case 'userman': $o = new OracleUserman(); break;
		case 'sipsettings': $o = new OracleSipsettings(); break;
		default:
			if (!in_array($key, Oracle::$job['modules'], true)) {
				throw new \Exception("stand-in: no object $name");
			}
			$class = ucfirst($key);
			require_once Oracle::$job['src'] . "/$key/$class.class.php";
			$fq = "\\FreePBX\\modules\\$class";
			if (!class_exists($fq)) { $fq = "\\$class"; }  // older modules (callforward, donotdisturb, ...) are not namespaced
			$this->objects[$key] = null;
			$o = new $fq($this);
		}
		$this->objects[$key] = $o;
		return $o;
	}
}

/** framework's DB_Helper kvstore, in memory per class (Oracle::$kvstore). */
class FreePBX_Helpers {
	public $FreePBX;
	public function __construct($freepbx = null) { $this->FreePBX = $freepbx; }
	public function __get($var) {
		if ($var === 'FreePBX') { return FreePBX::create(); }
		return FreePBX::create()->$var;
	}
	private function kv() { return str_replace('\\', '_', get_class($this)); }
	private static function enc($v) { return is_array($v) || is_object($v) ? json_encode($v) : $v; }
	public function getConfig($key = null, $id = 'noid') {
		$v = Oracle::$kvstore[$this->kv()][$id][$key] ?? false;
		if (is_string($v) && strlen($v) && ($v[0] === '[' || $v[0] === '{')) { $d = json_decode($v, true); if ($d !== null) { return $d; } }
		return $v;
	}
	public function setConfig($key = null, $val = false, $id = 'noid') {
		if ($val === false || $val === null) { unset(Oracle::$kvstore[$this->kv()][$id][$key]); return true; }
		Oracle::$kvstore[$this->kv()][$id][$key] = self::enc($val); return true;
	}
	public function delConfig($key, $id = 'noid') { unset(Oracle::$kvstore[$this->kv()][$id][$key]); return true; }
	public function getAll($id = 'noid') {
		$out = [];
		foreach (Oracle::$kvstore[$this->kv()][$id] ?? [] as $k => $v) { $out[$k] = $this->getConfig($k, $id); }
		return $out;
	}
	public function getAllKeys($id = 'noid') { return array_keys(Oracle::$kvstore[$this->kv()][$id] ?? []); }
	public function delById($id) { unset(Oracle::$kvstore[$this->kv()][$id]); return true; }
	public function getAllids() { return array_values(array_filter(array_keys(Oracle::$kvstore[$this->kv()] ?? []), function ($i) { return $i !== 'noid'; })); }
	public function setMultiConfig($arr, $id = 'noid') { foreach ($arr as $k => $v) { $this->setConfig($k, $v, $id); } }
}

}
