// The words of the account-deletion screens (issue 19), kept in one table so
// that a translation catalogue (issue 21) can take them over as they are.
// A value is a string, or a function of what it fills in (a name, or <time>
// elements, which come back as parts of a sentence).
export const T = {
	deletionFilter: 'Deletion',
	notErased: 'Not erased',
	pending: 'Pending deletion',
	erased: 'Erased',
	erasedUser: 'Erased user',
	userId: 'User ID',
	requestedAt: 'Deletion requested',
	erasesAt: 'To be erased',
	erasedAt: 'Erased',
	pendingNote: (asked, erases) => ['The user asked to delete their account on ', asked, '. It is erased on ', erases, ' unless they log in before then.'],
	tombstoneNote: 'Every piece of personal data of this user is gone: only the id and these dates remain. The audit log keeps what happened, without personal data.',
	deleteButton: 'Delete…',
	deleteTitle: (name) => `Delete ${name}?`,
	deleteWarning: 'Erasure is immediate and cannot be undone: the profile, phone number, WeChat identities, sessions and avatar are deleted now, and the same WeChat user logging in later gets a new, unrelated account. There is no cooling-off period.',
	reasonLabel: 'Reason (required, at most 500 characters; kept in the audit log)',
	deleteConfirm: 'Erase user',
	deleted: 'The user is erased.',
	statPending: 'Pending deletion',
	statErased: 'Erased users',
};
