<?php
/*
 * The Extensions page's edit, as its form posts it: every field filled from what FreePBX's own
 * getters return for the extension (Core::getUser, Core::getDevice, Voicemail::getMailbox,
 * Findmefollow::get), the scenario's changes applied, then the page's process functions in
 * their priority order (voicemail 1, core users 5, findmefollow 8, core devices 10).
 * Limits: the device fields are posted in the order of their sip rows' flags (the real form's
 * order comes from rendering the page), destinations are posted empty, no VmX fields.
 */

function oracle_extensions_page_edit($ext, $changes) {
	$fp = FreePBX::create();
	foreach (['core', 'voicemail', 'findmefollow'] as $m) { $fp->Modules->loadFunctionsInc($m); }
	$user = $fp->Core->getUser($ext);
	$device = $fp->Core->getDevice($ext);
	$form = $user;
	$form['display'] = 'extensions';
	$form['action'] = 'edit';
	$form['extdisplay'] = $ext;
	$form['extension'] = $ext;
	foreach (['noanswer_dest', 'busy_dest', 'chanunavail_dest'] as $d) { $form[$d] = ''; }
	if ($device) {
		$form['tech'] = $device['tech'];
		$form['emergency_cid'] = $device['emergency_cid'];
		$form['hint_override'] = $device['hint_override'];
		$rows = $fp->Database->prepare("SELECT keyword, data FROM sip WHERE id = ? ORDER BY flags");
		$rows->execute([$ext]);
		foreach ($rows->fetchAll(\PDO::FETCH_ASSOC) as $r) { $form['devinfo_' . $r['keyword']] = $r['data']; }
	} else {
		$form['tech'] = 'virtual';
	}
	$vm = $fp->Voicemail->getMailbox($ext);
	if ($vm) {
		$o = $vm['options'];
		$form += ['vm' => 'enabled', 'vmcontext' => $vm['vmcontext'], 'vmpwd' => $vm['pwd'], 'email' => $vm['email'],
			'pager' => $vm['pager']];
		foreach (['attach' => 'attach', 'saycid' => 'saycid', 'envelope' => 'envelope', 'vmdelete' => 'delete'] as $f => $opt) {
			$form[$f] = "$f=" . ($o[$opt] ?? 'no');
			unset($o[$opt]);
		}
		$form['options'] = implode('|', array_map(function ($k, $v) { return "$k=$v"; }, array_keys($o), $o));
		$form['passlogin'] = $fp->astman->database_get('AMPUSER', "$ext/novmpw") ? 'passlogin=no' : 'passlogin=yes';
		$form['novmstar'] = $fp->astman->database_get('AMPUSER', "$ext/novmstar") ? 'novmstar=yes' : 'novmstar=no';
	} else {
		$form += ['vm' => 'disabled', 'vmcontext' => 'default'];
	}
	$fm = $fp->Findmefollow->get($ext, 1);
	if ($fm) {
		foreach (['strategy', 'grptime', 'grppre', 'annmsg_id', 'dring', 'remotealert_id', 'toolate_id', 'ringing',
				'pre_ring', 'changecid', 'fixedcid', 'calendar_enable', 'calendar_id', 'calendar_group_id',
				'calendar_match', 'rvolume'] as $k) {
			if (array_key_exists($k, $fm)) { $form["fmfm_$k"] = $fm[$k]; }
		}
		$form['fmfm_grplist'] = str_replace('-', "\n", (string)$fm['grplist']);
		$form['fmfm_ddial'] = ($fm['ddial'] ?? '') === 'CHECKED' ? 'disabled' : 'enabled';
		$form['fmfm_needsconf'] = ($fm['needsconf'] ?? '') === 'CHECKED' ? 'enabled' : 'disabled';
		$form['fmfm_goto'] = 'fmfm_goto_sel';
		$form['fmfm_goto_sel'] = 'Extensions';
		$form['Extensionsfmfm'] = $fm['postdest'];
	}
	foreach ($changes as $k => $v) {
		if ($v === null) { unset($form[$k]); } else { $form[$k] = $v; }
	}
	$_REQUEST = $_POST = $form;
	voicemail_configprocess();
	core_users_configprocess();
	findmefollow_users_configprocess();
	core_devices_configprocess();
	$_REQUEST = $_POST = [];
	return true;
}
