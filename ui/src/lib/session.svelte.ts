/** Who is signed in (null until known), shared by the layout and the pages. */
export const session = $state<{ user: { name: string; role: string } | null }>({ user: null });

export function can(role: 'read' | 'deploy' | 'admin'): boolean {
  const order = ['read', 'deploy', 'admin'];
  return order.indexOf(session.user?.role ?? '') >= order.indexOf(role);
}
