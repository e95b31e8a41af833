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

// The words of content security (issue 20): the "Needs review" view and the
// moderation state on a user's page.
export const R = {
	nav: 'Needs review',
	title: 'Needs review',
	intro: 'Nicknames and avatars WeChat\u2019s content check sent for review. They are shown to people until an admin decides: approve keeps them, reject removes them.',
	none: 'Nothing awaits a review.',
	count: (n) => (n === 1 ? '1 user awaits a review' : `${n} users await a review`),
	user: 'User',
	nickname: 'Nickname',
	avatar: 'Avatar',
	actions: 'Decision',
	approve: 'Approve',
	reject: 'Reject…',
	rejectTitle: (name) => `Reject the content of ${name}?`,
	rejectText: 'The nickname and avatar awaiting review are removed (the user\u2019s nickname and avatar become empty). The decision is kept in the audit log.',
	rejectConfirm: 'Reject',
	approved: 'Approved: the content stays.',
	rejected: 'Rejected: the content is removed.',
	viewerNote: 'Only an ADMIN may approve or reject.',
	content: 'Content check',
	state: { UNCHECKED: 'Unchecked', PENDING: 'Pending check', APPROVED: 'Approved', REVIEW: 'In review' },
	kind: { UNCHECKED: '', PENDING: 'warn', APPROVED: 'ok', REVIEW: 'warn' },
	// WeChat's labels (msgSecCheck / mediaCheckAsync v2).
	label: { 100: 'normal', 10001: 'ad', 20001: 'politics', 20002: 'porn', 20003: 'abuse', 20006: 'crime', 20008: 'fraud', 20012: 'vulgar', 20013: 'copyright', 21000: 'other' },
};
