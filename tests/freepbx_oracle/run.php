<?php
/*
 * Runs one oracle job: php run.php job.json > result.json
 * job: {src, modules, db, paths, astdb, kvstore, installer_defaults, calls: [[object, method, args...]]}
 * result: the AstDB and kvstore afterwards, what each call returned, the hooks run,
 * and the settings that came from the installer defaults.
 */
require __DIR__ . '/standin.php';
require __DIR__ . '/pages.php';

Oracle::$job = json_decode(file_get_contents($argv[1]), true);
Oracle::$astdb = Oracle::$job['astdb'];
Oracle::$kvstore = Oracle::$job['kvstore'];
$_REQUEST = [];
$db = new OracleLegacyDb();
$astman = FreePBX::create()->astman;
$freepbx = FreePBX::create();
$returns = [];
foreach (Oracle::$job['calls'] as $call) {
	[$object, $method] = $call;
	$args = array_slice($call, 2);
	if (isset($call[2]['_request'])) {
		// A page's form: what the GUI posts, visible to code that reads $_REQUEST/$_POST.
		$_REQUEST = $_POST = $call[2]['_request'];
		$args = array_slice($call, 3);
	}
	$target = $object === 'function' ? null : $freepbx->$object;
	if ($target === null) { Oracle::$log[] = ['call', $method]; $ret = call_user_func_array($method, $args); }
	else { Oracle::$log[] = ['call', "$object::$method"]; $ret = call_user_func_array([$target, $method], $args); }
	$returns[] = $ret;
	$_REQUEST = $_POST = [];
}
ksort(Oracle::$astdb, SORT_STRING);
echo json_encode(['astdb' => Oracle::$astdb, 'kvstore' => Oracle::$kvstore, 'returns' => $returns,
	'log' => Oracle::$log, 'installer_defaults_used' => array_keys(Oracle::$missingSettings)],
	JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
